# install.cmake -- what `cmake --install` puts under the prefix, and how
# others find it there (included by the top CMakeLists.txt):
#
#   bin/troupe                          finds its Lua files from its own folder
#   <libdir>/libtroupe.so.0.1.0, .so.0, .so, libtroupe.a, libtroupe_lua.a
#   include/troupe.h, troupe_services.h, troupe_lua.h    the public headers only
#   <libdir>/lua/5.4/actor/core.so      the module's C part  (TROUPE_INSTALL_LUA_CDIR)
#   share/lua/5.4/actor/*.lua           its Lua files        (TROUPE_INSTALL_LUA_DIR)
#   <libdir>/pkgconfig/troupe.pc, troupe-lua.pc
#   <libdir>/cmake/troupe/              find_package(troupe): troupe::troupe,
#                                       troupe::static, troupe::lua
#   share/man/man1/troupe.1, share/doc/troupe/LICENSE, README.md
#
# With TROUPE_LUA_MODULE_ONLY (luarocks) only the module is installed.

file(GLOB _troupe_lua_files CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/lua/actor/*.lua)
install(FILES ${_troupe_lua_files} DESTINATION ${TROUPE_INSTALL_LUA_DIR}/actor)
install(TARGETS actor_core LIBRARY DESTINATION ${TROUPE_INSTALL_LUA_CDIR}/actor)
if(TROUPE_LUA_MODULE_ONLY)
  return()
endif()

install(TARGETS troupe RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS troupe_shared troupe_static troupe_lua EXPORT troupeTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
# include/ holds the public headers and nothing else.
file(GLOB _troupe_headers CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/*.h)
install(FILES ${_troupe_headers} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_SOURCE_DIR}/man/troupe.1
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE ${PROJECT_SOURCE_DIR}/README.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

# --- pkg-config: troupe.pc (libtroupe) and troupe-lua.pc (the Lua layer) ----
#
# Written at install time, so that they name the prefix installed to, which
# `cmake --install --prefix P` (or cpack) may choose then.

set(_troupe_pc_dir ${PROJECT_BINARY_DIR}/pkgconfig)
install(CODE "
  set(PROJECT_VERSION \"${PROJECT_VERSION}\")
  set(CMAKE_INSTALL_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
  set(CMAKE_INSTALL_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
  set(TROUPE_INSTALL_LUA_DIR \"${TROUPE_INSTALL_LUA_DIR}\")
  set(TROUPE_INSTALL_LUA_CDIR \"${TROUPE_INSTALL_LUA_CDIR}\")
  set(TROUPE_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  configure_file(\"${PROJECT_SOURCE_DIR}/cmake/troupe.pc.in\"
                 \"${_troupe_pc_dir}/troupe.pc\" @ONLY)
  configure_file(\"${PROJECT_SOURCE_DIR}/cmake/troupe-lua.pc.in\"
                 \"${_troupe_pc_dir}/troupe-lua.pc\" @ONLY)
")
install(FILES ${_troupe_pc_dir}/troupe.pc ${_troupe_pc_dir}/troupe-lua.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# --- the CMake package: find_package(troupe) ----------------------------------

include(CMakePackageConfigHelpers)
set(_troupe_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/troupe)
install(EXPORT troupeTargets NAMESPACE troupe::
        DESTINATION ${_troupe_cmake_dir})
configure_package_config_file(
  ${PROJECT_SOURCE_DIR}/cmake/troupeConfig.cmake.in
  ${PROJECT_BINARY_DIR}/troupeConfig.cmake
  INSTALL_DESTINATION ${_troupe_cmake_dir}
  PATH_VARS TROUPE_INSTALL_LUA_DIR TROUPE_INSTALL_LUA_CDIR)
# 0.x: a new minor version may change the API, so only 0.1.* matches 0.1.
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/troupeConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/troupeConfig.cmake
              ${PROJECT_BINARY_DIR}/troupeConfigVersion.cmake
        DESTINATION ${_troupe_cmake_dir})

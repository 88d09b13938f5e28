# install_tests.cmake -- the install/* tests (included by the top
# CMakeLists.txt): troupe installed into a prefix under the build tree,
# build/testdir/install/prefix/root, then used from outside by
# spec/install/check, one step per test (its header says what each proves):
#
#   install/prefix        cmake --install, the layout     (the others need it)
#   install/pkg-config    a C program built with pkg-config, and run
#   install/find-package  a CMake project with find_package(troupe)
#   install/lua           a script under a stock lua5.4
#   install/moved         the prefix copied elsewhere, the trees hidden
#   install/subproject    add_subdirectory(troupe) in a parent project
#   install/luarocks      luarocks make, then require "actor" (with luarocks)
#
# No network; about half a minute together, most of it the two builds.

find_program(TROUPE_LUAROCKS luarocks)
set(_troupe_prefix ${PROJECT_BINARY_DIR}/testdir/install/prefix/root)
set(_troupe_install_env
    "TROUPE_BUILD_DIR=${PROJECT_BINARY_DIR}"
    "TROUPE_PREFIX=${_troupe_prefix}"
    "TROUPE_VERSION=${PROJECT_VERSION}"
    "TROUPE_LIBDIR=${CMAKE_INSTALL_LIBDIR}"
    "TROUPE_LUA_DIR=${TROUPE_INSTALL_LUA_DIR}"
    "TROUPE_LUA_CDIR=${TROUPE_INSTALL_LUA_CDIR}"
    "CC=${CMAKE_C_COMPILER}" "CMAKE=${CMAKE_COMMAND}"
    "CTEST=${CMAKE_CTEST_COMMAND}" "LUA=${TROUPE_LUA54}"
    "PKG_CONFIG=${PKG_CONFIG_EXECUTABLE}" "LUAROCKS=${TROUPE_LUAROCKS}")
if(TROUPE_SANITIZE)
  # What links the instrumented install is instrumented too; the stock
  # lua5.4 gets the sanitizer's runtime preloaded.
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libasan.so
                  OUTPUT_VARIABLE _troupe_libasan OUTPUT_STRIP_TRAILING_WHITESPACE)
  list(APPEND _troupe_install_env
       "TROUPE_SAN_FLAGS=-fsanitize=address,undefined"
       "TROUPE_LUA_PRELOAD=${_troupe_libasan}")
elseif(TROUPE_TSAN)
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libtsan.so
                  OUTPUT_VARIABLE _troupe_libtsan OUTPUT_STRIP_TRAILING_WHITESPACE)
  list(APPEND _troupe_install_env
       "TROUPE_SAN_FLAGS=-fsanitize=thread"
       "TROUPE_LUA_PRELOAD=${_troupe_libtsan}")
endif()

set(_troupe_install_steps prefix pkg-config find-package moved subproject)
if(TROUPE_LUA54)
  list(APPEND _troupe_install_steps lua)
endif()
if(TROUPE_LUAROCKS AND TROUPE_LUA54)
  list(APPEND _troupe_install_steps luarocks)
else()
  message(WARNING "troupe: luarocks or lua5.4 missing: install/luarocks will not run")
endif()

foreach(step IN LISTS _troupe_install_steps)
  troupe_add_test(install/${step} install/${step} 300
                  ${PROJECT_SOURCE_DIR}/spec/install/check ${step})
  set_property(TEST install/${step} APPEND PROPERTY ENVIRONMENT ${_troupe_install_env})
  if(step STREQUAL "prefix")
    set_tests_properties(install/prefix PROPERTIES FIXTURES_SETUP troupe_prefix)
  elseif(step MATCHES "^(subproject|luarocks)$")
    # builds troupe from its sources with -j2
    set_tests_properties(install/${step} PROPERTIES PROCESSORS 2)
  else()
    set_tests_properties(install/${step} PROPERTIES FIXTURES_REQUIRED troupe_prefix)
  endif()
endforeach()

# package.cmake -- `cpack -G DEB` in a build tree makes troupe_<version>_<arch>.deb
# from what `cmake --install` puts under /usr (included by the top
# CMakeLists.txt). Its Depends come from dpkg-shlibdeps on the binaries
# (libuv1, libhiredis0.14, libedit2, libc6 on Debian 12: the troupe command has Lua linked in
# statically, see lua/CMakeLists.txt), plus lua-cjson for the
# JSON writer, which the Lua code requires by name. scripts/deb configures a
# tree for /usr (so libraries go to lib/<multiarch>) and runs it.

set(CPACK_PACKAGE_NAME troupe)
set(CPACK_PACKAGE_VENDOR "the troupe authors")
set(CPACK_PACKAGE_CONTACT "the troupe authors")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "Lua-scriptable actor host: C library, Lua 5.4 module and the troupe command")
set(CPACK_PACKAGE_DESCRIPTION
    "troupe runs actors on a libuv loop: bounded mailboxes, a router, a\n\
supervisor, and a key-value store made of actors. Actors are written in C\n\
or as Lua 5.4 coroutines. This package holds the troupe command, the Lua\n\
module for lua5.4 (require 'actor'), and libtroupe with its headers,\n\
pkg-config files and CMake package.")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "lua-cjson")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "lua5.4")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS
    "pkg-config, libuv1-dev, libmsgpack-dev, libhiredis-dev, libnats-dev, liblua5.4-dev")

# `make package_source`: the sources, not the build trees in the checkout.
# (A regex each; CPack writes them into its config, hence the double escape.)
set(CPACK_SOURCE_IGNORE_FILES "/\\\\.git/" "/build[^/]*/" "\\\\.deb$")

include(CPack)

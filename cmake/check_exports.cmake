# Checks that a shared object exports exactly the functions its public
# headers declare, for ctest (lint/exports):
#
#   cmake -DNM=<nm> -DLIBRARY=<libtroupe.so> -DHEADERS="<a.h>;<b.h>"
#         [-DSUBSET=ON] -P check_exports.cmake
#
# A function is declared when its name (tr_*, trL_*, luaopen_*) is followed
# by "(" in a header's code, comments and preprocessor lines left out; each
# such declaration must carry TR_API (the build hides everything else). The
# test fails on an export no header declares (an internal that leaked) and
# on a declared function the library does not export, naming each. SUBSET
# leaves out the second check, for a module linked from static libraries,
# which holds only the parts of them it uses.
cmake_minimum_required(VERSION 3.16) # if(... IN_LIST ...)
if(NOT NM OR NOT LIBRARY OR NOT HEADERS)
  message(FATAL_ERROR "usage: cmake -DNM=<nm> -DLIBRARY=<lib.so> "
                      "-DHEADERS=\"<a.h>;<b.h>\" -P check_exports.cmake")
endif()

set(declared "")
set(marked "")
foreach(header IN LISTS HEADERS)
  file(READ ${header} code)
  # Comments, then preprocessor lines (the TR_API definition among them).
  string(REGEX REPLACE "/\\*([^*]|\\*+[^*/])*\\*+/" " " code "${code}")
  string(REGEX REPLACE "//[^\n]*" "" code "${code}")
  string(REGEX REPLACE "(^|\n)[ \t]*#[^\n]*" "\n" code "${code}")
  # Every name called as a function in the code that is left: declarations.
  string(REGEX MATCHALL "[A-Za-z_0-9]+[ \t\n]*\\(" calls "${code}")
  foreach(call IN LISTS calls)
    string(REGEX REPLACE "[ \t\n]*\\($" "" name "${call}")
    if(name MATCHES "^(tr_|trL_|luaopen_)")
      list(APPEND declared ${name})
    endif()
  endforeach()
  # The ones marked TR_API: the name just before the first "(".
  string(REGEX MATCHALL "TR_API[^;(]*\\(" decls "${code}")
  foreach(decl IN LISTS decls)
    string(REGEX MATCH "[A-Za-z_0-9]+[ \t\n]*\\($" name "${decl}")
    string(REGEX REPLACE "[ \t\n]*\\($" "" name "${name}")
    list(APPEND marked ${name})
  endforeach()
endforeach()
list(REMOVE_DUPLICATES declared)
list(SORT declared)
list(REMOVE_DUPLICATES marked)

execute_process(COMMAND ${NM} -D --defined-only ${LIBRARY}
                OUTPUT_VARIABLE nm_out RESULT_VARIABLE nm_status)
if(NOT nm_status EQUAL 0)
  message(FATAL_ERROR "${NM} -D --defined-only ${LIBRARY} failed (${nm_status})")
endif()
# Lines are "<address> <type> <name>"; names starting with _ are the
# linker's own (_init, _fini, __bss_start, ...), not the library's.
string(REGEX MATCHALL "[^\n]+" lines "${nm_out}")
set(exported "")
foreach(line IN LISTS lines)
  if(line MATCHES "^[0-9a-fA-F]* *[A-Za-z] ([^ ]+)$")
    set(name ${CMAKE_MATCH_1})
    string(REGEX REPLACE "@.*$" "" name "${name}")  # a symbol version
    if(NOT name MATCHES "^_")
      list(APPEND exported ${name})
    endif()
  endif()
endforeach()
list(REMOVE_DUPLICATES exported)
list(SORT exported)

set(problems "")
foreach(name IN LISTS declared)
  if(NOT name IN_LIST marked)
    string(APPEND problems "\n  declared without TR_API: ${name}")
  endif()
  if(NOT SUBSET AND NOT name IN_LIST exported)
    string(APPEND problems "\n  declared, not exported: ${name}")
  endif()
endforeach()
foreach(name IN LISTS exported)
  if(NOT name IN_LIST declared)
    string(APPEND problems "\n  exported, declared in no public header: ${name}")
  endif()
endforeach()

list(LENGTH declared n_declared)
list(LENGTH exported n_exported)
get_filename_component(libname ${LIBRARY} NAME)
if(problems)
  message(FATAL_ERROR "${libname}: ${n_exported} exports, ${n_declared} "
                      "functions declared in the public headers:${problems}")
endif()
if(SUBSET)
  message(STATUS "${libname}: ${n_exported} exports, each declared in a "
                 "public header (${n_declared} declared)")
else()
  message(STATUS "${libname}: ${n_exported} exports, each declared in a "
                 "public header; ${n_declared} declared, each exported")
endif()

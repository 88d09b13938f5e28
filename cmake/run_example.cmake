# Runs one example for ctest: cmake -DPROGRAM=<path> -P run_example.cmake
#
# The example's output goes straight through (ctest matches it against the
# test's PASS_REGULAR_EXPRESSION). ctest ignores exit codes once that property
# is set, so a non-zero exit is reported here in a line the test's
# FAIL_REGULAR_EXPRESSION ("troupe-example: exited with status") catches.
if(NOT PROGRAM)
  message(FATAL_ERROR "usage: cmake -DPROGRAM=<example> -P run_example.cmake")
endif()
execute_process(COMMAND ${PROGRAM} RESULT_VARIABLE status)
if(NOT status STREQUAL "0")
  message(FATAL_ERROR "troupe-example: exited with status ${status}")
endif()

# The runner's tests (python/tests/test_runner*.py) and the tutorial scenarios run through it
# (test_scenario_*.py): one CTest test each, every one bounded. The scenarios run the C examples
# and `openssl s_server` beside the .py tutorials, with the tls_certs fixture's certificates.
file(GLOB UPYSOCK_RUNNER_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_runner*.py
     ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_scenario_*.py)
foreach(test ${UPYSOCK_RUNNER_TESTS})
  get_filename_component(stem ${test} NAME_WE)
  add_test(NAME python_${stem} COMMAND ${Python3_EXECUTABLE} -m unittest -v ${stem}
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/tests)
  set_tests_properties(python_${stem} PROPERTIES TIMEOUT 120 FIXTURES_REQUIRED tls_certs
    ENVIRONMENT "${UPYSOCK_PY_TEST_ENV};UPYSOCK_TEST_EXAMPLES=${PROJECT_SOURCE_DIR}/examples;UPYSOCK_OPENSSL_CLI=${UPYSOCK_OPENSSL_CLI}")
endforeach()

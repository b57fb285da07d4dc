# Script tests, registered with CTest beside the unit tests. Each finds the binaries through the
# environment: DESKMILTER, DESKCTL (built binaries), DESK_SOURCE_DIR, DESK_CORPORA_DIR.
#   tests/protocol/*.lua     miltertest scripts, run by tests/protocol/run.sh   (label: protocol)
#   tests/e2e/test_*.py      end-to-end tests with a private Postfix            (label: e2e)
#   tests/corpus/test_*.py   corpus runs through deskctl                        (label: corpus)
set(DESK_TEST_ENV
    "DESKMILTER=$<TARGET_FILE:deskmilter>"
    "DESKCTL=$<TARGET_FILE:deskctl>"
    "DESK_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
    "DESK_CORPORA_DIR=${PROJECT_SOURCE_DIR}/tests/data/corpora"
    "PYTHONDONTWRITEBYTECODE=1")

file(GLOB DESK_PROTOCOL_TESTS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/protocol/*.lua)
foreach(t ${DESK_PROTOCOL_TESTS})
  get_filename_component(n ${t} NAME_WE)
  add_test(NAME protocol.${n} COMMAND ${PROJECT_SOURCE_DIR}/tests/protocol/run.sh ${t})
  set_tests_properties(protocol.${n} PROPERTIES ENVIRONMENT "${DESK_TEST_ENV}" LABELS protocol
                       TIMEOUT 120)
endforeach()

foreach(kind e2e corpus)
  file(GLOB DESK_${kind}_TESTS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/${kind}/test_*.py)
  foreach(t ${DESK_${kind}_TESTS})
    get_filename_component(n ${t} NAME_WE)
    add_test(NAME ${kind}.${n} COMMAND python3 ${t})
    set_tests_properties(${kind}.${n} PROPERTIES ENVIRONMENT "${DESK_TEST_ENV}" LABELS ${kind}
                         TIMEOUT 900 RUN_SERIAL TRUE)
  endforeach()
endforeach()

# Script tests, registered with CTest beside the unit tests. Each finds the binaries through the
# environment: DESKMILTER, DESKCTL (built binaries), DESK_SOURCE_DIR, DESK_CORPORA_DIR.
#   tests/protocol/*.lua     miltertest scripts, run by tests/protocol/run.sh   (label: protocol)
#   tests/e2e/test_*.py      end-to-end tests with a private Postfix            (label: e2e)
#   tests/corpus/test_*.py   corpus runs through deskctl                        (label: corpus)
#   tests/faults/test_*.py   fault injection: kill -9, full disk, ... (label: faults)
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

foreach(kind e2e corpus faults)
  file(GLOB DESK_${kind}_TESTS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/${kind}/test_*.py)
  foreach(t ${DESK_${kind}_TESTS})
    get_filename_component(n ${t} NAME_WE)
    add_test(NAME ${kind}.${n} COMMAND python3 ${t})
    set_tests_properties(${kind}.${n} PROPERTIES ENVIRONMENT "${DESK_TEST_ENV}" LABELS ${kind}
                         TIMEOUT 900 RUN_SERIAL TRUE)
  endforeach()
endforeach()

# Packaging and systemd tests (tests/packaging/test_*.py): the .deb built and unpacked, the unit
# checked with systemd-analyze, sd_notify against a fake NOTIFY_SOCKET.   (label: package)
file(GLOB DESK_PACKAGE_TESTS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/packaging/test_*.py)
foreach(t ${DESK_PACKAGE_TESTS})
  get_filename_component(n ${t} NAME_WE)
  add_test(NAME package.${n} COMMAND python3 ${t})
  set_tests_properties(package.${n} PROPERTIES
                       ENVIRONMENT "${DESK_TEST_ENV};DESK_BINARY_DIR=${PROJECT_BINARY_DIR}" LABELS package
                       TIMEOUT 900)
endforeach()

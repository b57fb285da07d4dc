# Install rules and the Debian package (CPack DEB). Included from CMakeLists.txt.
#
#   cmake -S . -B b -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr -DDESK_TESTS=OFF
#   cmake --build b && cmake --install b            # or: (cd b && cpack -G DEB)
#
# What goes where (GNUInstallDirs; shown for CMAKE_INSTALL_PREFIX=/usr, which puts SYSCONFDIR at
# /etc; with the default /usr/local it is /usr/local/etc):
#   sbin/deskmilter, sbin/deskctl                  both are administrators' programs, section 8
#   /etc/deskmilter/deskmilter.toml                the example config with the packaged paths
#                                                  (never overwrites an existing file)
#   lib/systemd/system/deskmilter.service          Exec paths follow SBINDIR and SYSCONFDIR
#   lib/sysusers.d/deskmilter.conf, lib/tmpfiles.d/deskmilter.conf
#   share/man/man5/deskmilter.toml.5.gz, man8/deskmilter.8.gz, man8/deskctl.8.gz
#   share/doc/deskmilter/                          README.md, docs/*.md and docs/prometheus/ (alert rules)
# DESTDIR is honoured everywhere, including by the config rule.
include(GNUInstallDirs)

# systemd looks in PREFIX/lib/systemd/system for /usr and /usr/local alike; a packager may
# override these (e.g. with pkg-config systemd's systemdsystemunitdir).
set(DESK_SYSTEMD_UNIT_DIR "${CMAKE_INSTALL_PREFIX}/lib/systemd/system" CACHE PATH
    "Where the systemd unit is installed")
set(DESK_SYSUSERS_DIR "${CMAKE_INSTALL_PREFIX}/lib/sysusers.d" CACHE PATH
    "Where the sysusers.d file is installed")
set(DESK_TMPFILES_DIR "${CMAKE_INSTALL_PREFIX}/lib/tmpfiles.d" CACHE PATH
    "Where the tmpfiles.d file is installed")
set(DESK_CONF_DIR "${CMAKE_INSTALL_FULL_SYSCONFDIR}/deskmilter")

# The unit in systemd/ is written for the Debian layout (/usr/sbin, /etc, /usr/share/doc); the
# installed copy follows the configured directories.
set(desk_gen ${PROJECT_BINARY_DIR}/packaging)
file(READ ${PROJECT_SOURCE_DIR}/systemd/deskmilter.service desk_unit)
foreach(pair "/usr/sbin/deskmilter|${CMAKE_INSTALL_FULL_SBINDIR}/deskmilter"
             "/etc/deskmilter/|${DESK_CONF_DIR}/"
             "/usr/share/doc/deskmilter/|${CMAKE_INSTALL_FULL_DOCDIR}/")
  string(REPLACE "|" ";" pair "${pair}")
  list(GET pair 0 from)
  list(GET pair 1 to)
  string(FIND "${desk_unit}" "${from}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "systemd/deskmilter.service no longer contains ${from}: update packaging.cmake")
  endif()
  string(REPLACE "${from}" "${to}" desk_unit "${desk_unit}")
endforeach()
file(WRITE ${desk_gen}/deskmilter.service "${desk_unit}")
file(READ ${PROJECT_SOURCE_DIR}/systemd/deskmilter.tmpfiles.conf desk_tmpfiles)
string(REPLACE "d /etc/deskmilter " "d ${DESK_CONF_DIR} " desk_tmpfiles "${desk_tmpfiles}")
file(WRITE ${desk_gen}/deskmilter.tmpfiles.conf "${desk_tmpfiles}")

# The installed config: the example with the paths a system service uses. Each replaced line must
# exist in the example (the build fails otherwise, rather than installing the repository paths).
file(READ ${PROJECT_SOURCE_DIR}/config/deskmilter.example.toml desk_conf)
foreach(pair
    "socket = \"inet:8899@127.0.0.1\"|socket = \"unix:/var/spool/postfix/deskmilter/deskmilter.sock\""
    "dir = \"run/store\"|dir = \"/var/lib/deskmilter/store\""
    "spool_dir = \"run/spool\"|spool_dir = \"/var/lib/deskmilter/spool\"")
  string(REPLACE "|" ";" pair "${pair}")
  list(GET pair 0 from)
  list(GET pair 1 to)
  string(FIND "${desk_conf}" "\n${from}\n" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "config/deskmilter.example.toml has no line '${from}': update packaging.cmake")
  endif()
  string(REPLACE "\n${from}\n" "\n${to}\n" desk_conf "${desk_conf}")
endforeach()
file(WRITE ${desk_gen}/deskmilter.toml
     "# Installed from config/deskmilter.example.toml with the packaged paths: the socket in\n"
     "# Postfix's chroot (smtpd_milters = unix:/deskmilter/deskmilter.sock), the store and spool\n"
     "# under /var/lib/deskmilter. Edit the [[queue]] tables, check with\n"
     "#   deskmilter -n -c ${DESK_CONF_DIR}/deskmilter.toml\n"
     "# and start with `systemctl enable --now deskmilter`. deskmilter.toml(5) lists every option.\n"
     "#\n"
     "${desk_conf}")

install(TARGETS deskmilter deskctl RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
install(FILES ${desk_gen}/deskmilter.service DESTINATION ${DESK_SYSTEMD_UNIT_DIR})
install(FILES ${PROJECT_SOURCE_DIR}/systemd/deskmilter.sysusers.conf
        DESTINATION ${DESK_SYSUSERS_DIR} RENAME deskmilter.conf)
install(FILES ${desk_gen}/deskmilter.tmpfiles.conf
        DESTINATION ${DESK_TMPFILES_DIR} RENAME deskmilter.conf)
# Man pages are installed gzipped (gzip -9n: reproducible, as Debian policy asks).
set(desk_man_gz)
foreach(page deskmilter.8 deskctl.8 deskmilter.toml.5)
  string(REGEX REPLACE ".*\\." "" section "${page}")
  add_custom_command(OUTPUT ${desk_gen}/man/${page}.gz
                     COMMAND ${CMAKE_COMMAND} -E make_directory ${desk_gen}/man
                     COMMAND gzip -9nc ${PROJECT_SOURCE_DIR}/man/${page} > ${desk_gen}/man/${page}.gz
                     DEPENDS ${PROJECT_SOURCE_DIR}/man/${page} VERBATIM)
  list(APPEND desk_man_gz ${desk_gen}/man/${page}.gz)
  install(FILES ${desk_gen}/man/${page}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()
add_custom_target(desk_man_pages ALL DEPENDS ${desk_man_gz})
file(GLOB desk_docs ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${desk_docs} DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/prometheus DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${PROJECT_SOURCE_DIR}/config/deskmilter.example.toml
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
# The config: installed 0640 only when none is there, so `cmake --install` over a configured host
# keeps the admin's file (the package's copy is a dpkg conffile, which dpkg protects the same way).
# file(INSTALL) adds DESTDIR to an absolute DESTINATION itself; the EXISTS test must add it.
install(CODE "
  set(desk_dest \"\$ENV{DESTDIR}${DESK_CONF_DIR}\")
  if(EXISTS \"\${desk_dest}/deskmilter.toml\")
    message(STATUS \"Keeping existing: \${desk_dest}/deskmilter.toml (the new example is in ${CMAKE_INSTALL_FULL_DOCDIR}/examples)\")
  else()
    file(INSTALL \"${desk_gen}/deskmilter.toml\" DESTINATION \"${DESK_CONF_DIR}\"
         PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
  endif()
")

# The Debian package: `cpack -G DEB` in a build configured with CMAKE_INSTALL_PREFIX=/usr.
set(CPACK_PACKAGE_NAME deskmilter)
set(CPACK_PACKAGE_VENDOR "deskmilter")
set(CPACK_PACKAGE_CONTACT "deskmilter maintainers <deskmilter@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "help-desk mail filter (milter) for Postfix and Sendmail")
set(CPACK_PACKAGE_DESCRIPTION
    "deskmilter turns a Postfix server into a help desk: mail to a support address becomes a
ticket in a local LMDB store, replies are threaded onto their ticket, agents' answers are
recognised, and attachments are checked and optionally scanned with ClamAV.")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION mail)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # Depends from dpkg-shlibdeps over the two binaries
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "postfix | mail-transport-agent, systemd")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "clamav-freshclam")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
configure_file(${PROJECT_SOURCE_DIR}/packaging/debian/conffiles.in ${desk_gen}/debian/conffiles @ONLY)
foreach(script postinst prerm postrm)
  configure_file(${PROJECT_SOURCE_DIR}/packaging/debian/${script}.in ${desk_gen}/debian/${script}
                 @ONLY FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ
                 GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
endforeach()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${desk_gen}/debian/conffiles;${desk_gen}/debian/postinst;${desk_gen}/debian/prerm;${desk_gen}/debian/postrm")
set(CPACK_GENERATOR DEB)
include(CPack)

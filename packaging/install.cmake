# What `cmake --install` puts where, in Debian's places (the prefix defaults to /usr), and the .deb
# CPack makes of it (`cpack -G DEB` in the build tree, or the `package` target).
#   /usr/sbin/lockcr                                    the binary
#   /usr/bin/checkpointctl-locks -> ../sbin/lockcr      checkpointctl's `locks` plugin (found on PATH)
#   /usr/share/man/man1/lockcr.1.gz                     from man/lockcr.1.scd (scdoc)
#   /usr/share/containers/oci/hooks.d/lockcr*.json      podman/CRI-O hooks, only for containers
#                                                       annotated io.lockcr.enabled=true
#   /usr/share/lockcr/criu/runc.conf                    the CRIU config lines (never /etc/criu)
#   /usr/share/doc/lockcr/examples/lockcr.yaml          the policy file with its defaults
# The hook and CRIU files name the binary by its installed path (CMAKE_INSTALL_FULL_SBINDIR). The
# examples/ of the wiring work take precedence over packaging/'s minimal copies when they exist.
include(GNUInstallDirs)

install(TARGETS lockcr RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})

file(RELATIVE_PATH LOCKCR_BIN_TO_SBIN ${CMAKE_INSTALL_FULL_BINDIR} ${CMAKE_INSTALL_FULL_SBINDIR}/lockcr)
file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/packaging)
file(CREATE_LINK ${LOCKCR_BIN_TO_SBIN} ${CMAKE_BINARY_DIR}/packaging/checkpointctl-locks SYMBOLIC)
install(FILES ${CMAKE_BINARY_DIR}/packaging/checkpointctl-locks DESTINATION ${CMAKE_INSTALL_BINDIR})

find_program(SCDOC scdoc REQUIRED)
find_program(GZIP gzip REQUIRED)
add_custom_command(
  OUTPUT ${CMAKE_BINARY_DIR}/man/lockcr.1 ${CMAKE_BINARY_DIR}/man/lockcr.1.gz
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
  COMMAND ${SCDOC} < ${CMAKE_SOURCE_DIR}/man/lockcr.1.scd > ${CMAKE_BINARY_DIR}/man/lockcr.1
  COMMAND ${GZIP} -9 -n -c ${CMAKE_BINARY_DIR}/man/lockcr.1 > ${CMAKE_BINARY_DIR}/man/lockcr.1.gz
  DEPENDS ${CMAKE_SOURCE_DIR}/man/lockcr.1.scd
  COMMENT "scdoc lockcr.1")
add_custom_target(man ALL DEPENDS ${CMAKE_BINARY_DIR}/man/lockcr.1.gz)
install(FILES ${CMAKE_BINARY_DIR}/man/lockcr.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

# A file of examples/ if there is one, else packaging/'s; "/usr/sbin/lockcr" in it becomes the
# installed path.
function(lockcr_install_configured example fallback destination)
  set(source ${CMAKE_SOURCE_DIR}/packaging/${fallback})
  if(EXISTS ${CMAKE_SOURCE_DIR}/examples/${example})
    set(source ${CMAKE_SOURCE_DIR}/examples/${example})
  endif()
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${source})
  file(READ ${source} text)
  string(REPLACE "/usr/sbin/lockcr" "${CMAKE_INSTALL_FULL_SBINDIR}/lockcr" text "${text}")
  get_filename_component(name ${fallback} NAME)
  file(WRITE ${CMAKE_BINARY_DIR}/packaging/${name} "${text}")
  install(FILES ${CMAKE_BINARY_DIR}/packaging/${name} DESTINATION ${destination})
endfunction()
set(LOCKCR_HOOKS_DIR ${CMAKE_INSTALL_DATADIR}/containers/oci/hooks.d)
lockcr_install_configured(oci-hooks.d/lockcr.json oci-hooks.d/lockcr.json ${LOCKCR_HOOKS_DIR})
lockcr_install_configured(oci-hooks.d/lockcr-poststop.json oci-hooks.d/lockcr-poststop.json ${LOCKCR_HOOKS_DIR})
lockcr_install_configured(criu/runc.conf criu/runc.conf ${CMAKE_INSTALL_DATADIR}/lockcr/criu)
lockcr_install_configured(lockcr.yaml lockcr.yaml ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES ${CMAKE_SOURCE_DIR}/schema/lock-image.schema.json DESTINATION ${CMAKE_INSTALL_DATADIR}/lockcr/schema)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME lockcr)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "lockcr developers <lockcr@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "checkpoint/restore of containers that is safe for file locks")
set(CPACK_PACKAGE_DESCRIPTION "lockcr records every file lock of a frozen container and puts each one back,
owned by the right process or open file description, before any restored process runs:
as CRIU's action script under runc, crun, podman, CRI-O and the kubelet.")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
# Depends: exactly the shared libraries the binary links to (dpkg-shlibdeps). Not criu: Debian 12's
# criu 3.17 fails on kernels >= 6.13 and runs no config-file action script over RPC; a CRIU >= 4
# comes from elsewhere (see the README), so it is only suggested.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Loaded with dlopen by `lockcr show` alone (hook/archive/libarchive.h): shlibdeps cannot see it.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libarchive13")
set(CPACK_STRIP_FILES ON)  # the debug info stays in the build tree
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "criu (>= 4.0), runc")
include(CPack)

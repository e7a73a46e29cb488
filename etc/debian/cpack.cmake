# The Debian package, made by `cpack -G DEB` from this build's own install() rules: what
# `cmake --install` puts on a machine is exactly what the package holds, with no second list
# of files to keep in step (a debian/ directory would need one, and debhelper, and a second
# build from scratch). tests/package/build_deb.sh builds it with the prefix /usr, where the
# paths compiled into the tool and written into the plugstack drop-in are Debian's.
#
# What Debian's policy asks of a binary package beyond the files, and lintian checks:
# /usr/share/doc/gpuslots/{copyright,changelog.gz}, conffiles for everything in /etc,
# stripped binaries, Depends computed by dpkg-shlibdeps, gzipped man pages.
if(NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  message(STATUS "cpack: the prefix is ${CMAKE_INSTALL_PREFIX}; a Debian package needs "
                 "-DCMAKE_INSTALL_PREFIX=/usr (tests/package/build_deb.sh configures one so)")
endif()

set(_doc ${CMAKE_INSTALL_DATADIR}/doc/gpuslots)
install(FILES ${CMAKE_CURRENT_LIST_DIR}/copyright DESTINATION ${_doc})
add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/changelog.gz
  COMMAND sh -c "gzip -9n < '${CMAKE_CURRENT_LIST_DIR}/changelog' > '${PROJECT_BINARY_DIR}/changelog.gz'"
  DEPENDS ${CMAKE_CURRENT_LIST_DIR}/changelog VERBATIM)
add_custom_target(debian_changelog ALL DEPENDS ${PROJECT_BINARY_DIR}/changelog.gz)
install(FILES ${PROJECT_BINARY_DIR}/changelog.gz DESTINATION ${_doc})

# Every file installed under /etc is the admin's to edit: dpkg keeps their changes.
set(_conffiles ${CMAKE_INSTALL_FULL_SYSCONFDIR}/gpuslots/gpuslots.yaml.example)
if(GPUSLOTS_BUILD_PLUGIN)
  list(APPEND _conffiles ${CMAKE_INSTALL_FULL_SYSCONFDIR}/slurm/plugstack.conf.d/gpuslots.conf)
endif()
list(JOIN _conffiles "\n" _conffiles)
file(WRITE ${PROJECT_BINARY_DIR}/debian/conffiles "${_conffiles}\n")

set(GPUSLOTS_PACKAGE_MAINTAINER "gpuslots maintainers <gpuslots@example.org>" CACHE STRING
    "Maintainer field of the Debian package")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME gpuslots)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${GPUSLOTS_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # gpuslots_0.1.0_amd64.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${GPUSLOTS_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_BINARY_DIR}/debian/conffiles)
# The plugin must be loaded by the Slurm it was built against (Slurm refuses another
# release); the tool works without Slurm, on servers Slurm does not schedule.
# The MariaDB connector is loaded only for a ledger on MariaDB (lib/mariadb_api.cpp), so
# dpkg-shlibdeps does not see it: recommended, for the cluster ledger.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libmariadb3")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "slurmd, slurmctld, slurm-client, lua5.1, bash-completion")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "GPU and CPU slot ledger for Slurm GPU servers
gpuslots keeps an exact, crash-safe ledger of the GPU and CPU slots of shared
GPU servers and enforces it when Slurm jobs start.
.
This package holds the admin tool (gpuslots), the SPANK plugin (gpuslots.so)
that reserves slots in the job prolog and hands each job its GPUs, the
job_submit/lua module that lets Slurm's scheduler count the slots, an example
configuration, the plugstack.conf drop-in, man pages, bash completion and
systemd units.")
include(CPack)

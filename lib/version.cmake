# What `gpuslots --version` and the plugin's start-up line say (lib/version.cpp.in): the git
# revision and the Slurm version, both found when the build is configured.
#
# GPUSLOTS_GIT_REVISION: set it when building from an exported tree (a release tarball, a
# package build); left empty, git is asked, and "unknown" is the answer outside a checkout.
set(GPUSLOTS_GIT_REVISION "" CACHE STRING
    "Git revision that --version reports (empty: ask git when configuring)")

function(_gpuslots_git out)
  execute_process(COMMAND ${GIT_EXECUTABLE} -C ${PROJECT_SOURCE_DIR} ${ARGN}
                  OUTPUT_VARIABLE _value RESULT_VARIABLE _failed ERROR_QUIET
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(_failed)
    set(_value "")
  endif()
  set(${out} "${_value}" PARENT_SCOPE)
endfunction()

set(_rev "${GPUSLOTS_GIT_REVISION}")
if(NOT _rev)
  set(_rev unknown)
  find_package(Git QUIET)
  if(GIT_FOUND)
    _gpuslots_git(_top rev-parse --show-toplevel)
    # Only this project's own checkout counts, not a repository that happens to hold the tree.
    if(_top)
      file(REAL_PATH "${_top}" _top)
      file(REAL_PATH "${PROJECT_SOURCE_DIR}" _src)
    endif()
    if(_top AND _top STREQUAL _src)
      _gpuslots_git(_rev rev-parse --short=12 HEAD)
      if(NOT _rev)
        set(_rev unknown)
      endif()
      # Re-configure when HEAD moves (a commit, a checkout), so that the revision stays true.
      _gpuslots_git(_watch rev-parse --path-format=absolute --git-path HEAD)
      _gpuslots_git(_ref rev-parse --symbolic-full-name HEAD)
      if(_ref MATCHES "^refs/")
        _gpuslots_git(_ref_file rev-parse --path-format=absolute --git-path ${_ref})
        if(EXISTS "${_ref_file}")
          list(APPEND _watch "${_ref_file}")
        endif()
      endif()
      set_property(DIRECTORY ${PROJECT_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
                   ${_watch})
    endif()
  endif()
endif()

# slurm_version.h has only SLURM_VERSION_NUMBER (0x160508 = 22.05.8).
set(_slurm none)
if(GPUSLOTS_BUILD_PLUGIN AND EXISTS "${SLURM_INCLUDE_DIR}/slurm/slurm_version.h")
  file(STRINGS "${SLURM_INCLUDE_DIR}/slurm/slurm_version.h" _line
       REGEX "^#define SLURM_VERSION_NUMBER 0x[0-9a-fA-F]+")
  if(_line MATCHES "0x([0-9a-fA-F][0-9a-fA-F])([0-9a-fA-F][0-9a-fA-F])([0-9a-fA-F][0-9a-fA-F])")
    math(EXPR _major "0x${CMAKE_MATCH_1}")
    math(EXPR _minor "0x${CMAKE_MATCH_2}")
    math(EXPR _micro "0x${CMAKE_MATCH_3}")
    if(_minor LESS 10)
      set(_minor "0${_minor}")
    endif()
    set(_slurm "${_major}.${_minor}.${_micro}")
  endif()
endif()

# version.cpp.in reads these two.
set(GPUSLOTS_REVISION "${_rev}")
set(GPUSLOTS_SLURM_VERSION "${_slurm}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/version.cpp.in ${CMAKE_CURRENT_BINARY_DIR}/version.cpp
               @ONLY)
# For the plugin's entry object (C, no libgpuslots) and tests/package.
set_property(GLOBAL PROPERTY GPUSLOTS_SLURM_VERSION "${_slurm}")
set_property(GLOBAL PROPERTY GPUSLOTS_VERSION_LINE
             "gpuslots ${PROJECT_VERSION} (git ${_rev}, built against Slurm ${_slurm})")
message(STATUS "gpuslots ${PROJECT_VERSION}, git ${_rev}, Slurm ${_slurm}")

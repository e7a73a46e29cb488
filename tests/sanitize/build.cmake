# Configures and builds the sanitizer sub-build; run by the sanitize.build test:
#   cmake -DSOURCE_DIR=... -DBINARY_DIR=... -DCXX=clang++-14 -DCC=clang-14 -P build.cmake
# Only what these tests need is built: no Slurm plugin, no benchmarks, shared libraries (a
# static libstdc++ and ASan do not mix). -O0: with ASan, clang compiles the heaviest test file
# in 11 s at -O0 and 32 s at -O1, and the sub-build is part of every test run.
set(flags "-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer")
execute_process(
  COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${BINARY_DIR}
          -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_C_COMPILER=${CC}
          -DCMAKE_BUILD_TYPE=Sanitize
          "-DCMAKE_CXX_FLAGS_SANITIZE=-O0 -g ${flags}" "-DCMAKE_C_FLAGS_SANITIZE=-O0 -g ${flags}"
          "-DCMAKE_EXE_LINKER_FLAGS_SANITIZE=${flags}"
          -DGPUSLOTS_BUILD_PLUGIN=OFF -DGPUSLOTS_BUILD_BENCH=OFF -DGPUSLOTS_STATIC_TOOL=OFF
          -DGPUSLOTS_SANITIZER_TESTS=OFF -DGPUSLOTS_FUZZ=ON -DGPUSLOTS_HARDENING=OFF
  RESULT_VARIABLE failed)
if(failed)
  message(FATAL_ERROR "configuring the sanitizer sub-build in ${BINARY_DIR} failed")
endif()
cmake_host_system_information(RESULT cores QUERY NUMBER_OF_LOGICAL_CORES)
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BINARY_DIR} -j ${cores} RESULT_VARIABLE failed)
if(failed)
  message(FATAL_ERROR "building the sanitizer sub-build in ${BINARY_DIR} failed")
endif()

# Every dependency comes from a Debian package and is found, never vendored.
find_package(fmt REQUIRED)
find_package(OpenBLAS CONFIG REQUIRED)
if(NOT OpenBLAS_LIBRARIES)
  message(FATAL_ERROR "OpenBLAS was found but names no library; install libopenblas-dev")
endif()

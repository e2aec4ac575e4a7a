# CMake toolchain file: cross-compile for 64-bit Windows with Debian's MinGW-w64
# (gcc-mingw-w64-x86-64). AIGW_WIN_PREFIX (cache variable or environment) is where the Windows
# builds of jansson, libxml2, libcurl and OpenSSL are installed (scripts/build-windows.sh).
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(_triplet x86_64-w64-mingw32)
# The -posix variant: winpthreads threads (the project uses pthreads).
find_program(CMAKE_C_COMPILER NAMES ${_triplet}-gcc-posix ${_triplet}-gcc REQUIRED)
find_program(CMAKE_RC_COMPILER NAMES ${_triplet}-windres REQUIRED)
set(CMAKE_AR ${_triplet}-ar CACHE FILEPATH "")
set(CMAKE_RANLIB ${_triplet}-ranlib CACHE FILEPATH "")
if(NOT AIGW_WIN_PREFIX AND DEFINED ENV{AIGW_WIN_PREFIX})
  set(AIGW_WIN_PREFIX $ENV{AIGW_WIN_PREFIX})
endif()
set(CMAKE_FIND_ROOT_PATH /usr/${_triplet} ${AIGW_WIN_PREFIX})
set(CMAKE_PREFIX_PATH ${AIGW_WIN_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# Programs built here and run during the build (the tool catalog generator) run under Wine.
set(CMAKE_CROSSCOMPILING_EMULATOR ${CMAKE_CURRENT_LIST_DIR}/../scripts/wine-run.sh)
# pkg-config looks only at the Windows prefix, never at the host's .pc files.
if(AIGW_WIN_PREFIX)
  set(ENV{PKG_CONFIG_LIBDIR} "${AIGW_WIN_PREFIX}/lib/pkgconfig")
  set(ENV{PKG_CONFIG_SYSROOT_DIR} "")
endif()

# Sanitizer build options of tests/fuzz and the ThreadSanitizer build, included by the top-level
# CMakeLists.txt before any target is defined so every module is instrumented.
#   AIGW_FUZZ=ON  libFuzzer targets (tests/fuzz/fuzz_*.c) under ASan+UBSan; needs clang
#                 (CC=clang). Every module gets libFuzzer's coverage instrumentation.
#   AIGW_TSAN=ON  the whole tree under ThreadSanitizer (clang or gcc); tests/fuzz/run.sh tsan
#                 runs the tests that exercise threads there.
option(AIGW_FUZZ "Build the libFuzzer targets of tests/fuzz under ASan+UBSan (needs clang)" OFF)
option(AIGW_TSAN "Build with ThreadSanitizer (for the tests that exercise threads)" OFF)

if(AIGW_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "AIGW_FUZZ=ON needs clang (libFuzzer): configure with CC=clang")
  endif()
  if(AIGW_TSAN)
    message(FATAL_ERROR "AIGW_FUZZ and AIGW_TSAN cannot be combined (ASan and TSan exclude each other)")
  endif()
  if(NOT AIGW_SANITIZE)
    add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
    add_link_options(-fsanitize=address,undefined)
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link -gline-tables-only)
endif()

if(AIGW_TSAN)
  if(AIGW_SANITIZE)
    message(FATAL_ERROR "AIGW_TSAN and AIGW_SANITIZE cannot be combined (ASan and TSan exclude each other)")
  endif()
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=thread)
endif()

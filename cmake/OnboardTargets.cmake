# Shared compile settings and the one helper every folder uses to declare its library.

add_library(onboard_options INTERFACE)
target_compile_options(onboard_options INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align -Wunused
  -Woverloaded-virtual -Wimplicit-fallthrough)
# -Wnull-dereference is left out: at -O2 it fires inside Boost.Asio headers (false positives).
# GCC 12 reports Asio's coroutine frame allocator as mismatched new/delete (a known false positive).
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(onboard_options INTERFACE -Wno-mismatched-new-delete)
endif()
if(ONBOARD_WARNINGS_AS_ERRORS)
  target_compile_options(onboard_options INTERFACE -Werror)
endif()

if(ONBOARD_SANITIZE)
  if("thread" IN_LIST ONBOARD_SANITIZE AND ("address" IN_LIST ONBOARD_SANITIZE))
    message(FATAL_ERROR "ONBOARD_SANITIZE: thread cannot be mixed with address")
  endif()
  string(REPLACE ";" "," _san "${ONBOARD_SANITIZE}")
  add_compile_options(-fsanitize=${_san} -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=${_san})
  if("thread" IN_LIST ONBOARD_SANITIZE AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # Asio uses std::atomic_thread_fence, which TSan cannot model; GCC warns in every Asio user.
    add_compile_options(-Wno-tsan)
  endif()
endif()

# onboard_library(NAME DEPS...): a static library from the current folder's src/*.cpp with public
# headers under its include/onboard/<part>/. Sources are globbed so adding a module never means
# editing CMake. DEPS is the whole list of what the library may use: a header of any other part
# of the project is not on its include path, so an arrow that runs the wrong way fails to compile
# (tests/layering proves it).
#
# NAME_internal (an INTERFACE target) exposes src/ on purpose, for white-box tests and fuzzers;
# nothing else may link it.
function(onboard_library name)
  file(GLOB_RECURSE _srcs CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/src/*.cpp")
  add_library(${name} STATIC ${_srcs})
  target_include_directories(${name} PUBLIC "${CMAKE_CURRENT_SOURCE_DIR}/include"
                                     PRIVATE "${CMAKE_CURRENT_SOURCE_DIR}/src")
  target_link_libraries(${name} PUBLIC ${ARGN} PRIVATE onboard_options)
  add_library(${name}_internal INTERFACE)
  target_include_directories(${name}_internal INTERFACE "${CMAKE_CURRENT_SOURCE_DIR}/src")
  target_link_libraries(${name}_internal INTERFACE ${name})
endfunction()

# Which builds get the hot path's treatment, and whether it includes LTO: one rule for both
# functions below, so the compile and the link cannot disagree.
set(_onboard_optimised "$<CONFIG:RelWithDebInfo,Release>")
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  set(_onboard_hot_path_lto ON)
else()
  set(_onboard_hot_path_lto OFF)
endif()

# onboard_hot_path(FILES...): files of the per-line path of an ingest (millions of calls per run).
# In optimised builds they are compiled with -O3 and, with GCC, as fat LTO objects (GIMPLE beside
# the ordinary code): a program marked with onboard_link_hot_path inlines across them at link
# time (corpus reader -> read stage -> normaliser -> key, and consumer -> table -> batcher);
# every other program, the tests included, links their ordinary code, at no extra link time.
# bench/RESULTS.md ("Ingest", sessions 6 and 7) has what each of the two measured.
function(onboard_hot_path)
  set(_opts "$<${_onboard_optimised}:-O3>")
  if(_onboard_hot_path_lto)
    list(APPEND _opts "$<${_onboard_optimised}:-flto=auto>"
                      "$<${_onboard_optimised}:-ffat-lto-objects>")
  endif()
  set_source_files_properties(${ARGN} PROPERTIES COMPILE_OPTIONS "${_opts}")
endfunction()

# onboard_link_hot_path(TARGET): links TARGET with link-time optimisation of the hot-path files.
function(onboard_link_hot_path target)
  if(_onboard_hot_path_lto)
    target_link_options(${target} PRIVATE "$<${_onboard_optimised}:-flto=auto>")
  endif()
endfunction()

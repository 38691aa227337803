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

# onboard_library(NAME FOLDER DEPS...): a static library from FOLDER/src/*.cpp with public headers
# under FOLDER/include. Sources are globbed so adding a module never means editing CMake.
function(onboard_library name folder)
  file(GLOB_RECURSE _srcs CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/src/*.cpp")
  add_library(${name} STATIC ${_srcs})
  target_include_directories(${name} PUBLIC "${CMAKE_CURRENT_SOURCE_DIR}/include"
                                     PRIVATE "${CMAKE_CURRENT_SOURCE_DIR}/src")
  target_link_libraries(${name} PUBLIC ${ARGN} PRIVATE onboard_options)
endfunction()

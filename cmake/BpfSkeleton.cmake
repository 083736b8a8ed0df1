# bpf_skeleton(NAME SOURCE): compiles SOURCE (a *.bpf.c file) with clang for the BPF target and
# generates NAME.skel.h with `bpftool gen skeleton`; creates an INTERFACE target NAME_skel whose
# include directory holds the skeleton. Modelled on libbpf-bootstrap's FindBpfObject.cmake.
find_program(CLANG_EXE NAMES clang-14 clang REQUIRED)
find_program(BPFTOOL_EXE NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)

execute_process(COMMAND uname -m OUTPUT_VARIABLE _wsteer_arch OUTPUT_STRIP_TRAILING_WHITESPACE)
if(_wsteer_arch STREQUAL "x86_64")
  set(BPF_TARGET_ARCH x86)
  set(BPF_MULTIARCH_INCLUDE /usr/include/x86_64-linux-gnu)
elseif(_wsteer_arch STREQUAL "aarch64")
  set(BPF_TARGET_ARCH arm64)
  set(BPF_MULTIARCH_INCLUDE /usr/include/aarch64-linux-gnu)
else()
  set(BPF_TARGET_ARCH ${_wsteer_arch})
  set(BPF_MULTIARCH_INCLUDE /usr/include/${_wsteer_arch}-linux-gnu)
endif()

function(bpf_skeleton name source)
  set(obj ${CMAKE_CURRENT_BINARY_DIR}/${name}.bpf.o)
  set(skel_dir ${CMAKE_CURRENT_BINARY_DIR}/skel)
  set(skel ${skel_dir}/${name}.skel.h)
  file(GLOB _bpf_headers CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.h ${CMAKE_CURRENT_SOURCE_DIR}/lib/*.h)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${CLANG_EXE} -target bpf -O2 -g -Wall -Werror
            -D__TARGET_ARCH_${BPF_TARGET_ARCH}
            -I${CMAKE_CURRENT_SOURCE_DIR} -I${BPF_MULTIARCH_INCLUDE}
            -c ${CMAKE_CURRENT_SOURCE_DIR}/${source} -o ${obj}
    DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${source} ${_bpf_headers}
    COMMENT "BPF ${source}")
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${skel_dir}
    COMMAND ${BPFTOOL_EXE} gen skeleton ${obj} name ${name} > ${skel}
    DEPENDS ${obj}
    COMMENT "bpftool skeleton ${name}")
  add_custom_target(${name}_skel_gen DEPENDS ${skel})
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  target_include_directories(${name}_skel INTERFACE ${skel_dir} ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(${name}_skel INTERFACE PkgConfig::LIBBPF)
endfunction()

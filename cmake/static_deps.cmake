# Third-party libraries, shared or static per executable.
#
# Every target links Debian's shared libraries, except an executable with
# the property IOMMUVM_STATIC_DEPS ON: it links Debian's static archives of
# the same packages instead. The `iommuvm` command is one: each invocation
# paid ~12 ms of CPU before main(), nearly all of it the dynamic loader
# mapping and binding 67 shared libraries; static, `iommuvm --help` takes
# ~5 ms (bench/big_experiment's `query` start-up row).
#
# Our libraries name their third-party dependencies through
# iommuvm_third_party(): those, or for such an executable all the archives
# in one group, which then come after our libraries on its link line.

# Sets `out` to `libs` (imported targets), or iommuvm_static_archives for an
# executable with static deps.
function(iommuvm_third_party out)
  string(REPLACE ";" "$<SEMICOLON>" libs "${ARGN}")
  set(${out} "$<IF:$<BOOL:$<TARGET_PROPERTY:IOMMUVM_STATIC_DEPS>>,iommuvm_static_archives,${libs}>"
      PARENT_SCOPE)
endfunction()

# The archives, where Debian 12's -dev packages install them.
set(IOMMUVM_STATIC_ARCHIVES "")
set(IOMMUVM_STATIC_MISSING "")
foreach(name grpc++ grpc gpr upb address_sorting cares re2 z protobuf yaml-cpp ssh sqlite3 ssl
             crypto)
  find_library(IOMMUVM_STATIC_${name} NAMES lib${name}.a)
  if(IOMMUVM_STATIC_${name})
    list(APPEND IOMMUVM_STATIC_ARCHIVES "${IOMMUVM_STATIC_${name}}")
  else()
    list(APPEND IOMMUVM_STATIC_MISSING lib${name}.a)
  endif()
endforeach()
# All of abseil's: an archive adds only the objects something refers to.
get_filename_component(iommuvm_libdir "${IOMMUVM_STATIC_grpc}" DIRECTORY)
file(GLOB iommuvm_absl_archives "${iommuvm_libdir}/libabsl_*.a")
if(NOT iommuvm_absl_archives)
  list(APPEND IOMMUVM_STATIC_MISSING libabsl_*.a)
endif()
list(APPEND IOMMUVM_STATIC_ARCHIVES ${iommuvm_absl_archives})
# libssh's GSSAPI has no static archive in Debian: shared.
find_library(IOMMUVM_GSSAPI NAMES gssapi_krb5 libgssapi_krb5.so.2)
if(NOT IOMMUVM_GSSAPI)
  list(APPEND IOMMUVM_STATIC_MISSING libgssapi_krb5)
endif()

if(IOMMUVM_STATIC_MISSING)
  set(IOMMUVM_STATIC_DEPS_POSSIBLE OFF)
  message(STATUS "iommuvm: linking the CLI shared; no ${IOMMUVM_STATIC_MISSING}")
else()
  set(IOMMUVM_STATIC_DEPS_POSSIBLE ON)
endif()

# The archives in one group (they refer to each other in every direction).
add_library(iommuvm_static_archives INTERFACE)
if(IOMMUVM_STATIC_DEPS_POSSIBLE)
  target_link_libraries(iommuvm_static_archives INTERFACE
                        "$<LINK_GROUP:RESCAN,${IOMMUVM_STATIC_ARCHIVES}>" "${IOMMUVM_GSSAPI}"
                        Threads::Threads ${CMAKE_DL_LIBS} m rt)
endif()

# Links `target` (an executable) with the static archives when all were
# found; with the shared libraries otherwise.
function(iommuvm_link_static_deps target)
  if(IOMMUVM_STATIC_DEPS_POSSIBLE)
    set_target_properties(${target} PROPERTIES IOMMUVM_STATIC_DEPS ON)
  endif()
endfunction()

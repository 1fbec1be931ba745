# vswitch_add_extension(): builds a vswitch extension (a plugin ".so").
#
#   vswitch_add_extension(<target> SOURCES <file>... [LIBRARIES <lib>...])
#
# Makes MODULE library <target>, written as "<target>.so" (no "lib"
# prefix), compiled as C11 with hidden visibility, linked with -z defs (an
# undefined symbol is a link error, not a failure at load time: a plugin
# may use nothing of the daemon but the host table it is given) and with a
# version script that exports only vsw_extension_descriptor.  LIBRARIES
# are linked privately (targets such as PkgConfig::LIBPCAP, or plain
# names).
#
# The target ignores the compile and link options of the directory it is
# made in: a project that builds with sanitizers (add_compile_options(
# -fsanitize=...)) would otherwise leave __asan_* references in the plugin
# that only the sanitized daemon defines, which -z defs refuses.  The
# plugin gets the vswitch project's warnings instead, and -Werror only in
# the vswitch tree when VSW_WERROR is ON: third parties choose their own.
# The one exception is the tree's ThreadSanitizer build (VSW_TSAN), below.
#
# Used in the vswitch tree (extensions/CMakeLists.txt) and, installed,
# through find_package(vswitch-extension), whose config file sets the two
# locations below before it includes this file.

include_guard(GLOBAL)

if(NOT DEFINED VSWITCH_EXTENSION_INCLUDE_DIR)
    get_filename_component(VSWITCH_EXTENSION_INCLUDE_DIR
                           "${CMAKE_CURRENT_LIST_DIR}/../include" ABSOLUTE)
endif()
if(NOT DEFINED VSWITCH_EXTENSION_MAP)
    set(VSWITCH_EXTENSION_MAP "${CMAKE_CURRENT_LIST_DIR}/extension.map")
endif()
# Functions do not capture variables: keep the locations where every later
# call finds them, whichever directory it is made from.
set_property(GLOBAL PROPERTY VSWITCH_EXTENSION_INCLUDE_DIR
                             "${VSWITCH_EXTENSION_INCLUDE_DIR}")
set_property(GLOBAL PROPERTY VSWITCH_EXTENSION_MAP "${VSWITCH_EXTENSION_MAP}")

# The warnings of the vswitch project (cmake/warnings.cmake).
set(VSWITCH_EXTENSION_WARNINGS
    -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
    -Wformat=2 -Wvla -Wno-format-nonliteral -Wno-format-truncation)

function(vswitch_add_extension target)
    cmake_parse_arguments(PARSE_ARGV 1 VSWEXT "" "" "SOURCES;LIBRARIES")
    if(NOT VSWEXT_SOURCES)
        message(FATAL_ERROR "vswitch_add_extension(${target}): no SOURCES")
    endif()
    if(VSWEXT_UNPARSED_ARGUMENTS)
        message(FATAL_ERROR "vswitch_add_extension(${target}): unknown "
                            "arguments ${VSWEXT_UNPARSED_ARGUMENTS}")
    endif()
    get_property(include_dir GLOBAL PROPERTY VSWITCH_EXTENSION_INCLUDE_DIR)
    get_property(map GLOBAL PROPERTY VSWITCH_EXTENSION_MAP)

    add_library(${target} MODULE ${VSWEXT_SOURCES})
    # The directory's options (warnings, -Werror, sanitizers) are dropped
    # here and the ones a plugin needs are set below.
    set_target_properties(${target} PROPERTIES
        PREFIX ""
        SUFFIX ".so"
        C_STANDARD 11
        C_STANDARD_REQUIRED ON
        C_VISIBILITY_PRESET hidden
        COMPILE_OPTIONS ""
        LINK_OPTIONS ""
        LINK_DEPENDS "${map}")
    set(options ${VSWITCH_EXTENSION_WARNINGS} -fvisibility=hidden)
    if(VSW_WERROR)
        list(APPEND options -Werror)
    endif()
    # ThreadSanitizer has to see every access to memory threads share, or
    # it reports a plugin's own hand-offs (a ring, a published pointer) as
    # races: in a TSan build of the vswitch tree plugins are instrumented
    # too, and link the TSan runtime the daemon has loaded already.
    # (AddressSanitizer has no such need: an uninstrumented plugin is fine.)
    if(VSW_TSAN)
        list(APPEND options -fsanitize=thread)
        target_link_options(${target} PRIVATE -fsanitize=thread)
    endif()
    target_compile_options(${target} PRIVATE ${options})
    target_include_directories(${target} PRIVATE "${include_dir}")
    target_link_options(${target} PRIVATE -Wl,-z,defs
                        "-Wl,--version-script=${map}")
    if(VSWEXT_LIBRARIES)
        target_link_libraries(${target} PRIVATE ${VSWEXT_LIBRARIES})
    endif()
endfunction()

# Warnings of STYLE.md, for every target of the project.
add_compile_options(
    -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
    -Wformat=2 -Wvla
    # Messages are built with vsnprintf from format strings passed in.
    -Wno-format-nonliteral
    # snprintf into bounded buffers truncates by design; inputs such as
    # paths and names are length-checked where they enter.
    -Wno-format-truncation)
if(VSW_WERROR)
    add_compile_options(-Werror)
endif()
if(VSW_SANITIZE)
    add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                        -fno-sanitize-recover=undefined)
    add_link_options(-fsanitize=address,undefined)
endif()
if(VSW_TSAN)
    add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
    add_link_options(-fsanitize=thread)
endif()

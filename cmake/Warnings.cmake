# Warnings for the project's own targets only (linked PRIVATE, never exported).
add_library(tapegrad_warnings INTERFACE)
target_compile_options(tapegrad_warnings INTERFACE -Wall -Wextra -Wpedantic)

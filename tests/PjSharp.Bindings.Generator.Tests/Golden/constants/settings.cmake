# Like native/pjproject-settings.cmake: each entry becomes a -D for clang.
set(PJSHARP_PJPROJECT_DEFINES
  BUFFER_LEN=40   # changes sizeof(sized)
  SOMETHING_ON
)

# vcpkg overlay triplet: the stock x64-linux triplet plus PjSharp's pjproject
# settings as compiler flags, position-independent so libpjsharp can link it.
set(VCPKG_TARGET_ARCHITECTURE x64)
set(VCPKG_CRT_LINKAGE dynamic)
set(VCPKG_LIBRARY_LINKAGE static)
set(VCPKG_CMAKE_SYSTEM_NAME Linux)
set(VCPKG_BUILD_TYPE release)
include(${CMAKE_CURRENT_LIST_DIR}/pjsharp-flags.cmake)

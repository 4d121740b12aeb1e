/* Shared declarations of the pjsharp shim. Every export starts with pjsharp_. */
#ifndef PJSHARP_H
#define PJSHARP_H

#if defined(_WIN32)
#  define PJSHARP_EXPORT __declspec(dllexport)
#else
#  define PJSHARP_EXPORT __attribute__((visibility("default")))
#endif

#endif

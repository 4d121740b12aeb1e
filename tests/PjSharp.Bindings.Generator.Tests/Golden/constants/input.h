/* #define constants, evaluated by clang. */
#define ERRNO_START       70000
#define ERRNO_SPACE_SIZE  50000
#define ERRNO_START_APP   (ERRNO_START + ERRNO_SPACE_SIZE)
#define E_FIRST           (ERRNO_START_APP + 1)
#define E_SECOND          (ERRNO_START_APP + 2)
#define HEX_MASK          0xFF00u
#define NEGATIVE          (-42)
#define BIG_VALUE         0x123456789LL
#define MAX_UNSIGNED      0xFFFFFFFFu
#define SHIFTED           (1 << 20)
#define PRODUCT_NAME      "PjSharp \"test\""
#define NOT_A_CONSTANT    some_function
#define FUNCTION_LIKE(x)  ((x) + 1)

#ifndef BUFFER_LEN
#  define BUFFER_LEN 16
#endif

typedef struct sized { char buffer[BUFFER_LEN]; int len; } sized;
int some_function(void);

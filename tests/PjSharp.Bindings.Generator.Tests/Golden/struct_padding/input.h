/* Padding between and after members: offsets must come from clang, not C# rules. */
typedef struct padded
{
    char tag;          /* 0, then 7 bytes of padding */
    double value;      /* 8 */
    short count;       /* 16, then 2 bytes of padding */
    int flags;         /* 20 */
    char tail;         /* 24, then 7 bytes of tail padding */
} padded;

typedef struct with_pointers
{
    const char *name;
    struct padded *next;
    padded inner;      /* by value: emitted in full */
    unsigned long long big;
    _Bool ok;
} with_pointers;

struct tagged_only { int a; char b; };

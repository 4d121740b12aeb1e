#include <stddef.h>
/* Only functions with a symbol to import: static, inline and variadic ones are skipped. */
typedef struct thing thing;

void lib_init(void);
int lib_version(const char **text);
thing *lib_create(const char *name, size_t size, unsigned flags);
void lib_destroy(thing *t);
const char *lib_name(const thing *t);
long long lib_sum(const int values[], int count);
double lib_scale(double value, float factor);
int lib_in(int in, int base);

static inline int lib_inline_helper(int x) { return x + 1; }
__attribute__((unused)) static int lib_static_helper(int x) { return x; }
int lib_printf(const char *format, ...);

/* Enums keep clang's underlying type; unnamed enum constants become PjConstants. */
typedef enum status
{
    STATUS_FAIL = -2,
    STATUS_MAYBE = -1,
    STATUS_OK = 0,
    STATUS_MORE = 1,
} status;

enum mask
{
    MASK_NONE = 0,
    MASK_A = 0x1,
    MASK_HIGH = 0x80000000u,
};

typedef enum { ANON_FIRST = 10, ANON_SECOND } anon_typedef;

enum { LOOSE_ONE = 1, LOOSE_TWO = 2 };

typedef enum wide { WIDE_SMALL = 1, WIDE_BIG = 0x100000000LL } wide;

typedef struct holder { status s; enum mask m; anon_typedef a; } holder;

enum mask get_mask(status s);

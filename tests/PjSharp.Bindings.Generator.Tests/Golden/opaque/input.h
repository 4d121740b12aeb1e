/* Structs reached only through pointers are opaque unless requested. */
typedef struct incomplete incomplete;     /* never defined in C */
typedef struct hidden { int secret; } hidden;
typedef struct visible { int a; } visible;

typedef struct owner
{
    incomplete *handle;
    hidden *ref;        /* pointer only, not requested: opaque */
    visible *shown;     /* pointer, but requested: in full */
    struct owner *self;
} owner;

incomplete *open_incomplete(hidden *h);

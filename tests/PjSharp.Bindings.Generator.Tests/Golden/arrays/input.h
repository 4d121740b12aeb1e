/* Fixed arrays: primitives become fixed buffers, the rest inline arrays. */
typedef struct point { int x; int y; } point;
typedef enum color { RED, GREEN, BLUE } color;

typedef struct arrays
{
    char name[13];
    unsigned short ports[4];
    double matrix[2][3];
    point corners[4];
    point *refs[5];
    void (*handlers[2])(int);
    color palette[3];
    struct { int id; char code[2]; } items[2];
    int count;
    int tail[];
} arrays;

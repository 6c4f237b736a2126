// glibc's allocator statistics and trimming (mallinfo2, malloc_trim), which its Swift module leaves out.
#include <malloc.h>

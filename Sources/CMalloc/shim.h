// glibc's allocator statistics, trimming and tuning (mallinfo2, malloc_trim, mallopt), which its
// Swift module leaves out.
#include <malloc.h>

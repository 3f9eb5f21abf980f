#ifndef KIMERA_CZLIB_SHIM_H
#define KIMERA_CZLIB_SHIM_H
#include <zlib.h>

/* deflateInit2 is a macro; Swift calls this instead. windowBits 31 = a gzip wrapper (RFC 1952). */
static inline int kimera_deflate_init_gzip(z_stream *stream, int level) {
    return deflateInit2(stream, level, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
}
#endif

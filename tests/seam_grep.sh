#!/bin/sh
# The seam holds: no file under src/ outside src/host/ calls a socket syscall, epoll or OpenSSL,
# or names an OpenSSL type. Comments are left out (gcc -fpreprocessed strips them without
# expanding anything), so prose may still say "poll()"; member calls (s->layer->send) and
# prefixed names (usocket_send) are not syscalls.
#   seam_grep.sh SRC_DIR [CC]
set -eu
src=$1 cc=${2:-cc}
calls='socket|connect|accept|accept4|send|recv|sendto|recvfrom|sendmsg|recvmsg|setsockopt|getsockopt|getsockname|getpeername|shutdown|ioctl|fcntl|poll|ppoll|select|epoll_[a-z_]+'
openssl='SSL_[A-Za-z_]+|BIO_[A-Za-z_]+|X509[A-Za-z_]*|EVP_[A-Za-z_]+|ERR_[a-z_]+|openssl/'
found=0
for f in $(find "$src" -path "$src/host" -prune -o \( -name '*.c' -o -name '*.h' \) -print | sort); do
    hits=$("$cc" -fpreprocessed -dD -E -P "$f" 2>/dev/null |
           grep -nE "(^|[^A-Za-z0-9_>.])(($calls)[[:space:]]*\(|$openssl)" || true)
    if [ -n "$hits" ]; then
        echo "FAIL: $f reaches past the seam (src/host/):"
        echo "$hits" | sed 's/^/  /'
        found=1
    fi
done
[ "$found" = 0 ] && echo "no socket syscall, epoll or OpenSSL name outside $src/host"
exit "$found"

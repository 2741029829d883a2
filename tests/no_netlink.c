/* Loaded into Chromium by the browser tests (LD_PRELOAD, tests/browser.py): route netlink sockets fail to open, so
 * Chromium's address tracker takes its "always online" path and does not abort page loads with
 * ERR_NETWORK_CHANGED whenever the host adds or removes an interface (the cluster tests' veth links, a runner's
 * containers). Everything else goes to the C library's socket(). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <linux/netlink.h>
#include <sys/socket.h>

int socket(int domain, int type, int protocol) {
    static int (*libc_socket)(int, int, int);
    if (domain == AF_NETLINK && protocol == NETLINK_ROUTE) {
        errno = EAFNOSUPPORT;
        return -1;
    }
    if (!libc_socket)
        libc_socket = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
    return libc_socket(domain, type, protocol);
}

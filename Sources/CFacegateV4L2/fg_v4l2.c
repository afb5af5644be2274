#include "fg_v4l2.h"

#include <fcntl.h>
#include <libv4l2.h>
#include <sys/mman.h>
#include <unistd.h>

int fg_v4l2_open(const char *path) { return v4l2_open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC); }

int fg_v4l2_close(int fd) { return v4l2_close(fd); }

int fg_v4l2_ioctl(int fd, unsigned long request, void *argument) { return v4l2_ioctl(fd, request, argument); }

void *fg_v4l2_mmap(int fd, size_t length, int64_t offset) {
    return v4l2_mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)offset);
}

int fg_v4l2_munmap(void *start, size_t length) { return v4l2_munmap(start, length); }

long fg_v4l2_write(int fd, const void *data, size_t length) { return (long)write(fd, data, length); }

/*
 * tclient.c -- `troupe attach PATH` and `troupe top PATH`: the clients of
 * a host's console (actor.console). attach sends the lines it reads
 * (libedit on a terminal) and prints the answers, each ended by a "\0"
 * (ready) or "\1" (the statement goes on) byte. top asks for a frame each
 * second and redraws it with plain ANSI escapes, taking keys to sort by.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <editline/readline.h>

#include "tclient.h"

static int dial(const char *path) {
  struct sockaddr_un a;
  int fd;
  if (strlen(path) >= sizeof a.sun_path) {
    fprintf(stderr, "troupe: %s: path too long\n", path);
    return -1;
  }
  memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  strcpy(a.sun_path, path);
  if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
      connect(fd, (struct sockaddr *)&a, sizeof a)) {
    fprintf(stderr, "troupe: cannot connect to %s: %s\n", path,
            strerror(errno));
    if (fd >= 0)
      close(fd);
    return -1;
  }
  return fd;
}

static int send_all(int fd, const char *s, size_t n) {
  while (n) {
    ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    s += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Copies the answer to out (if any) up to its end byte, which it returns
 * (0 or 1); -1 when the connection ends. */
static int answer(int fd, FILE *out, char **keep, size_t *kept) {
  char c[4096];
  for (;;) {
    ssize_t n = recv(fd, c, sizeof c, 0), i;
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1;
    for (i = 0; i < n && (unsigned char)c[i] > 1; i++)
      ;
    if (keep) {
      char *k = realloc(*keep, *kept + (size_t)i + 1);
      if (!k)
        return -1;
      memcpy(k + *kept, c, (size_t)i);
      *kept += (size_t)i;
      k[*kept] = '\0';
      *keep = k;
    } else if (out) {
      fwrite(c, 1, (size_t)i, out);
      fflush(out);
    }
    if (i < n) /* the console answers one line at a time: nothing follows */
      return c[i];
  }
}

int troupe_attach(const char *path) {
  int fd = dial(path), tty = isatty(0) && isatty(1), more = 0;
  char buf[8192];
  if (fd < 0)
    return 1;
  if (answer(fd, stdout, NULL, NULL) < 0)
    goto gone;
  for (;;) {
    const char *prompt = more ? ">> " : "> ";
    char *line = NULL;
    if (tty) {
      if (!(line = readline(prompt)))
        break;
      if (*line)
        add_history(line);
    } else {
      size_t n;
      if (!fgets(buf, sizeof buf, stdin))
        break;
      n = strlen(buf);
      if (n && buf[n - 1] == '\n')
        buf[--n] = '\0';
      line = strdup(buf);
    }
    if (!line || send_all(fd, line, strlen(line)) || send_all(fd, "\n", 1)) {
      free(line);
      goto gone;
    }
    free(line);
    if ((more = answer(fd, stdout, NULL, NULL)) < 0)
      goto gone;
  }
  if (tty)
    putchar('\n');
  close(fd);
  return 0;
gone:
  fprintf(stderr, "troupe: the console closed the connection\n");
  close(fd);
  return 1;
}

int troupe_top(const char *path, const char *sort) {
  int fd = dial(path), tty = isatty(0), in_open = 1, rc = 0;
  struct termios saved, raw;
  char key = sort && *sort ? sort[0] : 'm';
  if (fd < 0)
    return 1;
  if (answer(fd, NULL, NULL, NULL) < 0) /* the greeting */
    goto gone;
  if (tty) {
    tcgetattr(0, &saved);
    raw = saved;
    raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    tcsetattr(0, TCSANOW, &raw);
    fputs("\033[?25l", stdout); /* no cursor */
  }
  for (;;) {
    struct winsize ws;
    struct timespec t0, t1;
    char req[32], *frame = NULL;
    size_t flen = 0;
    int rows = 20, left = 1000;
    if (isatty(1) && ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 6)
      rows = ws.ws_row - 4;
    snprintf(req, sizeof req, "%ctop %c %d\n", 0, key, rows);
    if (send_all(fd, req, 1 + strlen(req + 1)) ||
        answer(fd, NULL, &frame, &flen) < 0) {
      free(frame);
      goto gone;
    }
    fputs("\033[H\033[2J", stdout);
    fputs(frame ? frame : "", stdout);
    fflush(stdout);
    free(frame);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (left > 0) {
      struct pollfd p = {0, POLLIN, 0};
      char c;
      int n = poll(&p, in_open ? 1 : 0, left);
      if (n > 0) {
        if (read(0, &c, 1) != 1) {
          in_open = 0; /* stdin ended: top runs until killed */
        } else if (c == 'q' || c == 'Q') {
          goto done;
        } else if (strchr("mbkr", c)) {
          key = c;
          break;
        }
      }
      clock_gettime(CLOCK_MONOTONIC, &t1);
      left = 1000 - (int)((t1.tv_sec - t0.tv_sec) * 1000 +
                          (t1.tv_nsec - t0.tv_nsec) / 1000000);
    }
  }
gone:
  fprintf(stderr, "troupe: the console closed the connection\n");
  rc = 1;
done:
  if (tty) {
    tcsetattr(0, TCSANOW, &saved);
    fputs("\033[?25h\n", stdout);
  }
  close(fd);
  return rc;
}

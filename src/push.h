/* push.h - `packhelper push`: an image from a file (or stdin, or the docker
 * daemon) into any registry, crane-style. */
#ifndef PH_PUSH_H
#define PH_PUSH_H

/* Returns the exit status: 0 pushed, 1 failed, 2 usage. */
int push_main(int argc, char **argv);

#endif

/* probe.h - the readiness prober verb. */
#ifndef PH_PROBE_H
#define PH_PROBE_H

/* `packhelper probe ...`; returns the exit status. */
int probe_main(int argc, char **argv);

#endif

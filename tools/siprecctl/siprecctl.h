/* SPDX-License-Identifier: MIT */
/* siprecctl's parts: the compliance commands (compliance.c) run on the catalog, not the socket. */
#pragma once

/* cmd is verify-trail, retention, hold or erase; argv its arguments. Returns the exit status. */
int siprecctl_compliance(const char *cmd, int argc, char **argv, const char *config_path);

#ifndef KIMERA_CLIBEDIT_SHIM_H
#define KIMERA_CLIBEDIT_SHIM_H
#include <stdio.h>
#include <editline/readline.h>
#include <histedit.h>

/* Swift 6 refuses to read mutable C globals; these getters/setters wrap the ones we need. */
static inline int kimera_history_length(void) { return history_length; }
static inline void kimera_set_completion_append_character(int c) { rl_completion_append_character = c; }
static inline void kimera_set_attempted_completion_function(rl_completion_func_t *f) { rl_attempted_completion_function = f; }
static inline void kimera_set_attempted_completion_over(int v) { rl_attempted_completion_over = v; }
static inline const char *kimera_line_buffer(void) { return rl_line_buffer; }
/* Signals stay with the shell (a dispatch source cancels the running command); libedit must not re-raise them. */
static inline void kimera_set_catch_signals(int v) { rl_catch_signals = v; }
static inline void kimera_set_readline_name(const char *name) { rl_readline_name = name; }
#endif

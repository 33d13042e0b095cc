#pragma once
// The `nnsight` command's subcommands. Each add_* registers one subcommand on
// the app; its callback runs the command and throws nnsight::Error on user
// mistakes (main prints it to stderr and exits with status 1).

namespace CLI {
class App;
}

namespace nnsight::cli {

void add_generate_command(CLI::App& app);
void add_inspect_command(CLI::App& app);
void add_logit_lens_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_serve_command(CLI::App& app);
void add_trace_command(CLI::App& app);

}  // namespace nnsight::cli

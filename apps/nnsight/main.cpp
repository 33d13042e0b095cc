// nnsight: command-line front end. See `nnsight --help`.
#include <c10/util/Exception.h>
#include <CLI/CLI.hpp>

#include <iostream>

#include "commands.h"
#include "nnsight/base/error.h"

int main(int argc, char** argv) {
  CLI::App app{
      "nnsight: look inside language models while they run (GPT-2 and Llama families; "
      "Hugging Face folders, GGUF, llama2.c)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "nnsight 0.1.0");
  nnsight::cli::add_generate_command(app);
  nnsight::cli::add_inspect_command(app);
  nnsight::cli::add_logit_lens_command(app);
  nnsight::cli::add_run_command(app);
  nnsight::cli::add_serve_command(app);
  nnsight::cli::add_trace_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 1;  // --help is success; every usage error is status 1
  } catch (const nnsight::Error& e) {
    std::cerr << "nnsight: error: " << e.what() << "\n";
    return 1;
  } catch (const c10::Error& e) {
    std::cerr << "nnsight: error (libtorch): " << e.what_without_backtrace() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "nnsight: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

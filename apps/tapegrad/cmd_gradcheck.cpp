// `tapegrad gradcheck`: checks every parameter of an MLP against finite
// differences (exit 0 on pass, 1 on fail, 2 on bad arguments); the work is done
// by run_gradcheck (gradcheck_run.cpp).
#include <iostream>

#include "data_source.hpp"
#include "gradcheck_run.hpp"
#include "tapegrad/autograd.hpp"
#include "tapegrad/commands.hpp"
#include "tapegrad/nn/closed_form.hpp"
#include "tapegrad/nn/init.hpp"
#include "tapegrad/nn/loss.hpp"

namespace tapegrad::apps {

void add_gradcheck_command(CLI::App& app) {
  auto c = std::make_shared<GradcheckCommand>();
  CLI::App* cmd = app.add_subcommand(
      "gradcheck", "Check an MLP's gradients (every parameter) against finite differences");
  cmd->add_option("--model", c->model, "Layer sizes, e.g. 784-128-10")
      ->check(parsed_by([](const std::string& v) { nn::parse_layer_sizes(v); }, "SPEC"))
      ->capture_default_str();
  cmd->add_option("--act", c->act, "Hidden activation: sigmoid, tanh, relu, leaky_relu, identity")
      ->check(parsed_by([](const std::string& v) { nn::parse_activation(v); }, "ACTIVATION"))
      ->capture_default_str();
  cmd->add_option("--loss", c->loss, "Loss: ce, nll, mse, bce, bce_logits (head chosen to suit)")
      ->check(parsed_by([](const std::string& v) { nn::parse_loss(v); }, "LOSS"))
      ->capture_default_str();
  cmd->add_option("--batch", c->batch, "Samples in the batch")
      ->check(positive())
      ->capture_default_str();
  cmd->add_option("--mode", c->mode,
                  "full (every Jacobian entry) or directional (v^T J u per parameter; a failure "
                  "is located in full mode)")
      ->check(parsed_by([](const std::string& v) { parse_gradcheck_mode(v); }, "MODE"))
      ->capture_default_str();
  cmd->add_option("--dtype", c->dtype,
                  "Model dtype; f32 gradients are checked against an f64 reference")
      ->check(parsed_by([](const std::string& v) { parse_dtype(v); }, "DTYPE"))
      ->capture_default_str();
  cmd->add_option("--seed", c->seed, "Seed for weights, data, directions and samples")
      ->capture_default_str();
  cmd->add_option("--json", c->json_path, "Write the results as JSON to this file");
  cmd->add_option("--data", c->data,
                  std::string("random, or real samples from a data set: ") + kDataSpecs)
      ->check(parsed_by(
          [](const std::string& v) {
            if (v != "random") check_data_spec(v);
          },
          "DATA"))
      ->capture_default_str();
  cmd->add_option("--data-dir", c->data_dir,
                  "Directory of fetched data sets (default: $TAPEGRAD_DATA_DIR or <source>/data)");
  cmd->add_option("--closed-form", c->closed_form,
                  "Also check report 000..004's hand-derived backprop (its network unless "
                  "--model/--act/... say otherwise)")
      ->check(parsed_by([](const std::string& v) { nn::report_network(v); }, "REPORT"));
  cmd->add_flag("--sweep-step", c->sweep_step,
                "Also print the error against a fixed step h from 1e-1 to 1e-12");
  cmd->add_option("--sweep-entries", c->sweep_entries, "Entries per parameter in the sweep")
      ->check(positive())
      ->capture_default_str();
  cmd->add_option("--atol", c->atol, "An entry passes when |a - n| <= atol + rtol |n|")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--rtol", c->rtol, "See --atol")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--stencil", c->stencil, "central, central4 or richardson")
      ->check(parsed_by([](const std::string& v) { parse_stencil(v); }, "STENCIL"))
      ->capture_default_str();
  cmd->add_option("--worst", c->worst, "Worst entries to list")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--max-entries", c->max_entries,
                  "Check at most this many entries of each parameter, at random (0: all)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_flag("--second-order", c->second_order,
                "Also check Hessian-vector products against differences of gradients");
  cmd->add_option("--init", c->init, "Weight init (as for train)")
      ->check(parsed_by([](const std::string& v) { nn::parse_init(v); }, "INIT"))
      ->capture_default_str();
  cmd->add_option("--bias", c->bias, "Linear layers have biases")->capture_default_str();
  cmd->add_option("--l1", c->l1, "L1 penalty lambda on weights")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--l2", c->l2, "L2 penalty lambda on weights")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->callback([c, cmd]() {
    c->model_given = cmd->count("--model") > 0;
    c->act_given = cmd->count("--act") > 0;
    c->loss_given = cmd->count("--loss") > 0;
    c->bias_given = cmd->count("--bias") > 0;
    c->l1_given = cmd->count("--l1") > 0;
    c->l2_given = cmd->count("--l2") > 0;
    const int status = run_gradcheck(*c, std::cout);
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace tapegrad::apps

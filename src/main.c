/* main: the azure-ai-gateway-mcp program — parses the command line and environment, then either
 * answers --help/--version/--check or serves MCP over stdin/stdout until stdin closes. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "demo.h"
#include "mcp.h"
#include "engine.h"
#include "platform.h"

static const char INSTRUCTIONS[] =
    "Governs one Azure API Management instance used as an AI gateway in front of Azure OpenAI. "
    "Read before you write: list_apis, get_policy, list_subscriptions, get_backend_pool, get_metrics. "
    "Write tools (update_quota, update_backend_pool, apply_policy, rehearse_failover, revert_change) accept dry_run=true to "
    "show the diff first; every applied change gets a change_id that revert_change can undo.";

static int serve(struct config *cfg)
{
    struct mcp_server_info info = {
        .name = "azure-ai-gateway-mcp",
        .title = "Azure AI Gateway (API Management)",
        .version = AIGW_VERSION,
        .instructions = INSTRUCTIONS,
        .read_only = cfg->read_only,
    };
    struct mcp_server *srv = mcp_server_new(&info);
    struct engine *engine = engine_new(cfg);
    util_error err;
    util_error_clear(&err);
    int rc = (!srv || !engine) ? UTIL_ENOMEM : engine_register(engine, srv, &err);
    if (rc == 0) {
        for (size_t i = 0; i < cfg->n_problems; i++)
            LOG_WARN("config", "%s", cfg->problems[i]);
        rc = mcp_server_run(srv, STDIN_FILENO, STDOUT_FILENO);
    } else {
        LOG_ERROR("main", "cannot start: %s", err.message[0] ? err.message : "out of memory");
    }
    mcp_server_free(srv);
    engine_free(engine);
    return rc == 0 ? 0 : 1;
}

static int check(struct config *cfg)
{
    struct engine *engine = engine_new(cfg);
    util_buf report;
    util_buf_init(&report, 0);
    util_error err;
    util_error_clear(&err);
    int rc = engine ? engine_check(engine, &report, &err) : UTIL_ENOMEM;
    if (report.len)
        fputs(report.data, stderr);
    if (rc != 0)
        fprintf(stderr, "check failed: %s\n", err.message[0] ? err.message : util_code_name(rc));
    else
        fputs("check passed\n", stderr);
    util_buf_free(&report);
    engine_free(engine);
    return rc == 0 ? 0 : 1;
}

/* --demo (or AIGW_DEMO=1, for hosts such as a Claude Desktop extension that can only set the
 * environment) must be handled before the environment is read; --help/--version win over it. */
static bool wants_demo(int argc, char **argv)
{
    const char *env = getenv("AIGW_DEMO");
    bool demo = env && (!strcmp(env, "1") || !strcasecmp(env, "true") || !strcasecmp(env, "yes") ||
                        !strcasecmp(env, "on"));
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h") || !strcmp(argv[i], "--version") ||
            !strcmp(argv[i], "-V"))
            return false;
        demo = demo || !strcmp(argv[i], "--demo");
    }
    return demo;
}

int main(int argc, char **argv)
{
    platform_stdio_binary(); /* JSON-RPC frames end in \n, never \r\n */
    struct demo demo = {0};
    if (wants_demo(argc, argv)) {
        util_error derr;
        util_error_clear(&derr);
        if (demo_start(&demo, &derr) != 0) {
            fprintf(stderr, "azure-ai-gateway-mcp: %s\n", derr.message);
            return 1;
        }
    }
    struct config cfg;
    bool exit_now = false;
    util_buf out;
    util_buf_init(&out, 0);
    util_error err;
    util_error_clear(&err);
    if (config_load(&cfg, argc, argv, NULL, NULL, &exit_now, &out, &err) != 0) {
        fprintf(stderr, "azure-ai-gateway-mcp: %s\n", err.message);
        util_buf_free(&out);
        demo_stop(&demo);
        return 2;
    }
    if (exit_now) {
        platform_ignore_sigpipe(); /* stdout closed early (--help | head): a write error, not a kill */
        fputs(out.data, stdout);
        fflush(stdout);
        util_buf_free(&out);
        config_free(&cfg);
        return 0;
    }
    util_buf_free(&out);
    util_log_set_level(cfg.log_level);
    int rc = cfg.check ? check(&cfg) : serve(&cfg);
    demo_stop(&demo);
    config_free(&cfg);
    util_log_free_all();
    return rc;
}

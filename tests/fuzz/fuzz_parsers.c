/* fuzz_parsers: the client's readers of Azure's answers — ARM's error envelope turned into a
 * sentence (src/arm/arm_error.c, for every status, api and method), the expired-token test,
 * and the metrics parsers of Azure Monitor, the reports API, Log Analytics and Application
 * Insights answers, then their merge and text report (src/metrics). Invariants: no crash, no
 * leak; a failing answer always gives a non-empty sentence and an error code; what the
 * parsers return is JSON that serialises; the merged result has its text report.
 * Input: one control byte (status, api, method, group_by), then the answer body. */
#include "fuzz.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arm/arm_internal.h"
#include "metrics.h"

static const long statuses[] = {400, 401, 403, 404, 409, 412, 429, 500, 502, 503};
static const char *const methods[] = {"GET", "PUT", "PATCH", "DELETE", "POST"};
static const char *const paths[] = {
    "apis/aoai/policies/policy", "", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Insights/metrics",
    ("https://management.azure.com/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/"
     "apim/backends/b1?api-version=2024-05-01")};

static void serialises(json_t *j)
{
    if (!j)
        return;
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    CHECK(s != NULL);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t ctl;
    char *text = fuzz_text(data, size, &ctl);
    if (!text)
        return 0;

    /* ARM's error envelope */
    struct config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.arm_endpoint = "https://management.azure.com";
    cfg.service_name = "apim";
    cfg.service_id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/apim";
    struct arm_client client;
    memset(&client, 0, sizeof client);
    client.cfg = &cfg;
    struct arm_request req = {.method = methods[ctl % 5], .path = paths[(ctl >> 3) & 3], .api = (ctl >> 5) & 3};
    util_error err;
    util_error_clear(&err);
    long status = statuses[ctl % 10];
    int rc = arm_error_from_answer(&client, &req, status, text, (ctl & 0x80) ? "req-1" : NULL, 1 + (ctl & 3),
                                   (long)ctl * 100, &err);
    CHECK(rc != 0 && err.message[0] != '\0');
    (void)arm_is_expired_token(text);

    json_t *body = json_loads(text, JSON_DECODE_ANY, NULL);
    if (body) {
        util_error_clear(&err);
        CHECK(arm_error_from_json(&client, &req, json_object_get(body, "error"), &err) != 0);
        CHECK(err.message[0] != '\0');

        struct metrics_inputs in;
        memset(&in, 0, sizeof in);
        in.monitor_requests = metrics_parse_monitor_requests(body);
        in.monitor_durations = metrics_parse_monitor_durations(body, json_object_get(in.monitor_requests, "series"));
        in.reports = metrics_parse_reports(body);
        in.reports_series = metrics_parse_reports_series(body);
        in.la_subscriptions = metrics_parse_la(body);
        in.la_backends = (ctl & 1) ? metrics_parse_la(body) : NULL;
        in.tokens = (ctl & 2) ? metrics_parse_token_metrics(body) : metrics_parse_la(body);
        in.tokens_source = (ctl & 2) ? "app_insights" : "log_analytics";
        in.unavailable = json_array();
        in.notes = json_array();
        json_t *parsed[] = {in.monitor_requests, in.monitor_durations, in.reports, in.reports_series,
                            in.la_subscriptions, in.la_backends, in.tokens};
        for (size_t i = 0; i < sizeof parsed / sizeof parsed[0]; i++)
            serialises(parsed[i]);
        json_t *result = metrics_merge(&in, ctl % 3);
        CHECK(result != NULL);
        serialises(result);
        json_object_set_new(result, "api_id", json_string("aoai"));
        json_object_set_new(result, "since", json_string("2026-01-01T00:00:00Z"));
        json_object_set_new(result, "until", json_string("2026-01-02T00:00:00Z"));
        char *report = metrics_text(result);
        CHECK(report != NULL);
        free(report);
        json_decref(result);
        for (size_t i = 0; i < sizeof parsed / sizeof parsed[0]; i++)
            json_decref(parsed[i]);
        json_decref(in.unavailable);
        json_decref(in.notes);
        json_decref(body);
    }
    free(text);
    return 0;
}

/* Teams in the pure configuration loader (vswitchd/config.c): a team port
 * keeps its team settings in the port's "team" object; an unusable one is
 * left out and counted, like any unusable entry. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "balance.h"

static const char doc[] =
    "{\"format\": 2, \"extensions\": [],"
    " \"switches\": [{\"name\": \"sw0\", \"settings\": {}, \"extensions\": [],"
    "  \"ports\": ["
    "   {\"name\": \"team0\", \"settings\": {\"type\": \"team\","
    "     \"vlan-mode\": \"trunk\", \"trunks\": \"10,20\"},"
    "    \"team\": {\"members\": \"eth1,eth2\", \"mode\": \"static\","
    "              \"lb\": \"port\", \"standby\": \"eth2\"}},"
    "   {\"name\": \"team1\", \"settings\": {\"type\": \"team\"},"
    "    \"team\": {\"mode\": \"static\"}},"
    "   {\"name\": \"team2\", \"settings\": {\"type\": \"team\"}},"
    "   {\"name\": \"team3\", \"settings\": {\"type\": \"team\"},"
    "    \"team\": {\"members\": \"eth3\", \"standby\": \"eth4\"}},"
    "   {\"name\": \"team4\", \"settings\": {\"type\": \"team\"},"
    "    \"team\": {\"members\": \"eth5,eth5\"}},"
    "   {\"name\": \"team5\", \"settings\": {\"type\": \"team\"},"
    "    \"team\": {\"members\": \"eth6\", \"mode\": \"lacp\","
    "              \"lacp-rate\": \"slow\"}}"
    "  ]}]}";

START_TEST(test_team_ports_load)
{
    struct mgr_desired *d;
    char err[256] = "";
    const struct mgr_desired_port *team0, *team5;

    ck_assert_int_eq(
        mgr_config_parse_text(doc, strlen(doc), "t", &d, err, sizeof err), 0);
    ck_assert_uint_eq(d->n_switches, 1);
    /* team1 (no members), team2 (no team object), team3 (standby not a
     * member) and team4 (a member twice) are left out. */
    ck_assert_uint_eq(d->switches[0].n_ports, 2);
    ck_assert_uint_eq(d->n_rejected, 4);
    team0 = &d->switches[0].ports[0];
    ck_assert_str_eq(team0->name, "team0");
    ck_assert_int_eq(team0->cfg.type, MGR_PORT_TEAM);
    ck_assert_int_eq(team0->cfg.vlan.mode, VSW_VLAN_MODE_TRUNK);
    ck_assert_uint_eq(team0->cfg.team.members.n, 2);
    ck_assert_str_eq(team0->cfg.team.members.names[0], "eth1");
    ck_assert_str_eq(team0->cfg.team.members.names[1], "eth2");
    ck_assert_int_eq(team0->cfg.team.mode, VSW_TEAM_STATIC);
    ck_assert_int_eq(team0->cfg.team.lb, VSW_TEAM_LB_PORT);
    ck_assert_str_eq(team0->cfg.team.standby, "eth2");
    team5 = &d->switches[0].ports[1];
    ck_assert_str_eq(team5->name, "team5");
    ck_assert_int_eq(team5->cfg.team.mode, VSW_TEAM_LACP);
    ck_assert_int_eq(team5->cfg.team.lacp_rate, 1);
    mgr_desired_destroy(d);
}
END_TEST

int
main(void)
{
    Suite *suite = suite_create("team_config");
    TCase *tc = tcase_create("load");
    SRunner *runner;
    int failed;

    tcase_add_test(tc, test_team_ports_load);
    suite_add_tcase(suite, tc);
    runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

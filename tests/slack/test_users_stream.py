"""slack/users: every Slack user as an Identity, linked to the Person with the same email,
the same Person that GitHub and Jira identities with that email have."""

from __future__ import annotations

import pytest

from ingestion.harness import run_sync
from ingestion.identities import resolve_identities
from ingestion.streams import IdentityRef, get_stream
from sources.slack.models import SlackWorkspace
from tests.fakes.github import FakeGitHub
from tests.slack.conftest import GENERAL
from tracking.models import ChatMessage, Commit, Identity, Person

pytestmark = pytest.mark.django_db

ADA = "U00000001"
ADA_EMAIL = "ada.lovelace@example.com"


def slack_identities():
    return Identity.objects.filter(source="slack")


def test_every_slack_user_becomes_an_identity(slack):
    run = slack.sync("users")

    assert run.status == "succeeded"
    assert run.created == 6  # five people and the deploy bot
    ada = slack_identities().get(external_id=ADA)
    assert (ada.username, ada.display_name, ada.email) == (
        "ada.lovelace",
        "Ada Lovelace",
        ADA_EMAIL,
    )
    assert (ada.is_bot, ada.is_deactivated) == (False, False)
    assert slack_identities().get(username="deploybot").is_bot is True


def test_a_user_with_an_email_is_linked_to_the_person_with_that_email(slack):
    person = Person.objects.create(name="Ada", email=ADA_EMAIL)

    slack.sync("users")

    assert slack_identities().get(external_id=ADA).person == person


def test_a_user_whose_email_nobody_has_gets_a_new_person(slack):
    slack.sync("users")

    person = slack_identities().get(external_id=ADA).person
    assert (person.name, person.email) == ("Ada Lovelace", ADA_EMAIL)
    assert slack_identities().get(username="deploybot").person is None  # no email


def test_a_user_deactivated_in_slack_is_marked_so_on_the_next_sync(slack):
    slack.sync("users")
    slack.upstream.update_user(ADA, deleted=True)

    run = slack.sync("users")

    assert run.updated == 1
    assert slack_identities().get(external_id=ADA).is_deactivated is True


def test_without_users_read_email_users_come_without_emails(slack):
    slack.upstream.missing_scopes.add("users:read.email")
    person = Person.objects.create(name="Someone", email="unrelated@example.com")

    slack.sync("users")

    assert set(slack_identities().values_list("email", flat=True)) == {""}
    assert not slack_identities().filter(person=person).exists()


def test_a_person_linked_by_hand_stays_linked_when_slack_shows_no_email(slack):
    slack.upstream.missing_scopes.add("users:read.email")
    slack.sync("users")
    person = Person.objects.create(name="Ada", email="ada@home.example")
    slack_identities().filter(external_id=ADA).update(person=person)
    slack.upstream.update_user(ADA, profile={"real_name": "Ada King"})

    slack.sync("users")

    ada = slack_identities().get(external_id=ADA)
    assert ada.display_name == "Ada King"
    assert ada.person == person


def test_users_are_read_in_pages_of_200(slack):
    for number in range(245):
        slack.upstream.add_user(f"user.{number}")

    run = slack.sync("users")

    assert run.created == 251
    assert [call.get("limit") for call in slack.upstream.calls_of("users.list")] == ["200", "200"]


def test_message_authors_met_before_the_users_sync_are_the_same_identities(slack_channels):
    slack = slack_channels
    slack.sync("messages", GENERAL)
    authors = slack_identities().count()

    slack.sync("users")

    assert slack_identities().count() == 6
    assert authors == 5
    message = ChatMessage.objects.filter(user__external_id=ADA).first()
    assert message.user.display_name == "Ada Lovelace"


def test_the_workspace_is_remembered_for_permalinks(slack):
    slack.sync("users")

    workspace = SlackWorkspace.objects.get()
    assert workspace.url == "https://hub-test.slack.com/"
    assert workspace.team_id == "T0HUBTEST"


# --- one Person across sources ----------------------------------------------------------------


@pytest.fixture
def github(settings, fake_server) -> FakeGitHub:
    upstream = FakeGitHub(repositories=1, commits=2, issues=0, pulls=0, tokens=("ghp_test",))
    server = fake_server(upstream.app)
    settings.GITHUB_API_URL = server.url
    settings.GITHUB_TOKEN = "ghp_test"
    settings.GITHUB_ORGS = ["acme"]
    settings.GITHUB_REPOS = []
    return upstream


def sync_github_commit_by(github: FakeGitHub, email: str) -> Identity:
    """A commit whose author GitHub knows only by email, synced through the GitHub source."""
    run_sync(get_stream("github", "repositories"))
    sha = github.add_commit("acme/repo-000", author_login=None, author_email=email)
    run_sync(get_stream("github", "commits"), "acme/repo-000")
    return Commit.objects.get(sha=sha).author


def jira_identity(email: str) -> Identity:
    """A Jira account as the Jira source names it: an IdentityRef the harness resolves."""
    ref = IdentityRef(source="jira", external_id="5b10ac8d82e05b22cc7d4ef5", email=email)
    return Identity.objects.get(pk=resolve_identities([ref])[("jira", ref.external_id)])


def test_a_slack_user_links_to_the_person_of_github_and_jira_identities_with_that_email(
    slack, github
):
    github_author = sync_github_commit_by(github, "Ada.Lovelace@Example.com")
    jira_account = jira_identity(ADA_EMAIL)

    slack.sync("users")

    slack_ada = slack_identities().get(external_id=ADA)
    assert github_author.person is not None
    assert slack_ada.person == github_author.person == jira_account.person
    assert Person.objects.filter(email=ADA_EMAIL).count() == 1


def test_github_and_jira_identities_met_after_a_slack_user_join_its_person(slack, github):
    slack.sync("users")
    slack_ada = slack_identities().get(external_id=ADA)

    github_author = sync_github_commit_by(github, ADA_EMAIL)
    jira_account = jira_identity(ADA_EMAIL)

    assert slack_ada.person is not None
    assert github_author.person == jira_account.person == slack_ada.person

"""Ranks tips and facts for a free question, then fits tips to who is asking.

A misspelt word is first read as the guidance's word it is closest to (``Ranker.correct``).
BM25 (rank-bm25) over words reduced by the Snowball English stemmer (snowballstemmer), after
mapping everyday synonyms onto one word each (``SYNONYMS``), plus a bonus when a tag or a
fact's phrase appears in the question as a whole. A question shaped like a request for a fact
("what is", "who can see", "can I delete") leans to facts; one shaped like a request for help
("how do I", "ideas", "tips") leans to tips. Below ``MINIMUM_SCORE`` nothing is relevant,
unless a question with none of the guidance's words means much the same as a tip, a fact or a
question asked before (``NO_WORD_FLOOR``).
The lexical scores are then fused with sentence similarity (guidance/dense.py, a small
transformer shipped with keyq), through which the tuning half's questions also vote for their
answers, and with a classifier's probability for each block and fact, learnt from the same
sentence vectors (guidance/classifier.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import get_close_matches
from functools import cache

import numpy as np
import snowballstemmer
from numpy.typing import NDArray
from rank_bm25 import BM25Okapi

from guidance import classifier, dense
from guidance.content import Audience, Fact, Guidance, Question, Tip, facts, questions
from guidance.sectors import names_sector, sector_follow_up
from survey.content import EARNER, Group, Option, question

STOPWORDS = frozenset(
    """
    a an and are as at be but by can do does for from have how i if in into is it its me my of
    on or our should so than that the their them there these they this to us was we what when
    where which who why will with would you your im we're were i'm about any get got just more
    most much some such too very still already ever like been being tomorrow today please
    whats wont dont cant isnt didnt doesnt time day days work make go going tell best near open
    left book call write bring order close turn room say want need know think one thing way
    good new old year month week next last use find give take come look keep also really
    bit lot lots yes ok okay hi hello thanks
    """.split()
)
KEEP = frozenset({"no", "not"})  # "no HR" matters for small organisations
SYNONYMS = {
    # progression
    "promoted": "progression", "promotion": "progression", "promotions": "progression",
    "promote": "progression", "career": "progression", "careers": "progression",
    "advance": "progression", "advancement": "progression", "step up": "progression",
    "move up": "progression", "get on": "progression", "senior roles": "progression",
    "supervisor": "progression", "team leader": "progression", "stuck": "progression",
    "sponsor": "sponsorship", "sponsors": "sponsorship", "mentor": "mentoring",
    "mentors": "mentoring", "mentee": "mentoring", "secondment": "assignments",
    "secondments": "assignments", "internal role": "progression", "internal roles": "progression",
    "internal job": "progression", "internal jobs": "progression",
    "internal vacancy": "progression", "internal vacancies": "progression",
    "put themselves forward": "progression", "put yourself forward": "progression",
    "put myself forward": "progression",
    "leadership programme": "progression", "leadership programmes": "progression",
    "leadership course": "progression", "leadership courses": "progression",
    "leadership scheme": "progression", "management programme": "progression",
    "management course": "progression", "development programme": "progression",
    "glass ceiling": "progression", "class ceiling": "progression",
    "hit a ceiling": "progression", "hits a ceiling": "progression",
    "hitting a ceiling": "progression", "hit the ceiling": "progression",
    # talent
    "hire": "recruitment", "hiring": "recruitment", "recruit": "recruitment",
    "recruiting": "recruitment", "recruits": "recruitment", "intake": "recruitment",
    "applicants": "applicant", "candidates": "applicant", "candidate": "applicant",
    "apply": "applicant", "adverts": "advert", "ads": "advert", "vacancies": "advert",
    "job ad": "advert", "graduate": "graduates", "grads": "graduates", "uni": "university",
    "universities": "university", "2:1": "degree", "degrees": "degree", "cv": "screening",
    "cvs": "screening", "interviews": "interview", "interviewing": "interview",
    "internships": "internship", "interns": "internship", "referrals": "referral",
    "posh": "privileged", "privately": "private", "public school": "private school",
    # culture
    "belong": "belonging", "included": "inclusion", "inclusive": "inclusion",
    "snobby": "snobbery", "snob": "snobbery", "accents": "accent", "banter": "mocked",
    "imposter": "belonging", "awkward": "conversation", "drinks": "social",
    "network": "networks", "feedback": "listen", "exclude": "inclusion", "excludes": "inclusion",
    "excluded": "inclusion", "excluding": "inclusion", "exclusion": "inclusion",
    "exclusionary": "inclusion",
    # vision
    "ceo": "leadership", "board": "leadership", "exec": "leadership", "execs": "leadership",
    "executive": "leadership", "leaders": "leadership", "directors": "leadership",
    "champion": "owner", "accountable": "accountability", "business case": "case",
    "md": "leadership", "managing director": "leadership", "on side": "buy-in",
    "on board": "buy-in", "sceptical": "buy-in", "skeptical": "buy-in", "woke": "buy-in",
    "push back": "buy-in", "pushback": "buy-in", "resistant": "buy-in",
    "our chair": "leadership", "chairman": "leadership",
    "chairwoman": "leadership", "chairperson": "leadership",
    # data
    "survey": "question", "questionnaire": "question", "disclose": "answer",
    "disclosure": "answer", "answers": "answer", "answered": "answer", "responses": "answer",
    "respond": "answer", "fill": "answer", "figures": "data", "results": "data",
    "stats": "data", "statistics": "data", "numbers": "data", "percent": "rate",
    "percentage": "rate", "uptake": "rate", "participation": "rate",
    "in every 100": "rate", "out of every 100": "rate", "out of 100": "rate",
    "break down": "breakdown", "broken down": "breakdown",
    # a report's hidden figure, as people see it ("a dash instead of a number")
    "dash": "hidden", "dashes": "hidden",
    # plan
    "roadmap": "plan", "strategy": "plan", "actions": "plan", "priorities": "plan",
    "quota": "objectives", "quotas": "objectives",
    "begin": "start", "first step": "start", "kick off": "start",
    # people and places
    "employees": "staff", "workers": "staff", "colleagues": "staff", "people": "staff",
    "workforce": "staff", "team": "staff", "shop floor": "frontline",
    "shift": "frontline", "shifts": "frontline", "warehouse": "frontline",
    "firm": "organisation", "company": "organisation", "business": "organisation",
    "organization": "organisation", "charity": "organisation",
    "law": "legal", "lawyers": "legal", "solicitors": "legal",
    "accountancy": "accounting", "accountants": "accounting",
    # not what they look like
    "train station": "railway", "train stations": "railway",
}  # fmt: skip
FACT_CUES = re.compile(
    r"^(?:what(?:'s| is| are| does| do| counts)|whats|who\b|is (?:it|this|a|my|an)\b|"
    r"are (?:we|answers|you)\b|can (?:i|hr|my|you|keyq|managers?)\b|will (?:my|hr|anyone)\b|"
    r"do i have to|why (?:do|are|should) (?:you|i|we ask)|which (?:group|option)|"
    r"where is|how (?:is|are) (?:it|my|the answers?|answers?)|benchmark)"
)
TARGET_CUES = re.compile(
    r"\bwhat (?:[a-z%'-]+ ){1,3}(?:should|do|would) (?:we|i|you) (?:be )?"
    r"(?:aim|expect|target|hop)[a-z]*\b"
)
"""Asking for a figure to aim at ("what response rate should we aim for?", "what percentage
should we be hoping for"): a fact, though "should we" usually asks for help."""
HELP_CUES = re.compile(
    r"\b(?:how (?:do|can|should|could) (?:i|we)|how to|ideas?|tips?|advice|help\b|"
    r"should we|what can we|ways to|fix|improve|support)\b"
)
SMALL_WORDS = (
    "no hr",
    "small business",
    "small firm",
    "small company",
    "sme",
    "few of us",
    "tiny",
    "just me",
    "micro",
)
LINE_MANAGER_WORDS = (
    "my team",
    "my staff",
    "i manage",
    "my direct reports",
    "my people",
    "team member",
    "my shift",
    "my crew",
)
LEADER_WORDS = (
    "board",
    "ceo",
    "chief executive",
    "senior leader",
    "leadership team",
    "as a leader",
    "exec",
)
PARENT = re.compile(
    EARNER + r"|\b(?:which|what) (?:group|category|option|class)\b"
    r"|\b(?:which|what) (?:bracket|box)\b(?! (?:i|you|we|they|he|she|people|someone|each)\b)"
    r"|\bwhere (?:does|do|would|should|will) .{0,40}\b(?:go|fit|sit|belong|count|land)\b"
)
"""A question about a parent's (or the main earner's) job, or which group a job is in: "my dad
was a carpenter", "which group is a nurse", "where does a taxi driver fit", "coach driver,
which bracket" (not "which box I ticked": that is about someone's answer)."""
GROUP_AFTER_JOB = re.compile(r"\b(?:working class|professional or|intermediate)\b")
"""A group named after a job asks which group the job is in ("is a shop manager working
class?", "electrician working class"); before it, it is about people ("more working class
managers")."""
GROUP_FACT = {
    Group.WORKING_CLASS: "f_working_class",
    Group.PROFESSIONAL: "f_groups",
    Group.INTERMEDIATE: "f_groups",
    Group.OTHER: "f_other",
}
"""The fact that answers "which group is my parent's job in?", by the job's group."""
EARNER_FACT = "f_key_question"
"""The fact that says whose job counts, for parents' jobs in different groups."""
MINIMUM_SCORE = 2.5
"""Below this score nothing in the guidance is about the question (set on the tuning half)."""
PHRASE_BONUS = 2.0
JOB_BONUS = 10.0
"""Added to the group fact when ``parent_job`` finds one (so it passes the relevance floor; it
is then put first)."""
SMALL_ORG_PEOPLE = 50
"""A headcount under this is a small organisation (the guidance's "about 50")."""
HEADCOUNT_BONUS = 2.5
"""For a headcount under 50 ("only 12 staff", "9 permanent workers", "a team of 8"): enough
to answer, not to win ("2 new staff" is not a headcount)."""
SMALL_FACT = "f_small_org"
WHY_PARENTS = re.compile(
    r"\bwhy\b(?:(?!\bbut\b|[.;]).)*\b(?:know|ask|asking|need|want|care)\b(?:(?!\bbut\b|[.;]).)*"
    r"\b(?:mum|mom|dad|father|mother|parents?|main earner)\b"
    r"|\bwhat(?:['\u2019]?s| is) in it for (?:me|them|us|staff|people|my|our|colleagues)\b"
    r"|\bwhat(?:['\u2019]?s|s| has| have| does| do)\b[^.?!]{0,40}"
    r"\b(?:family|background|upbringing|parents?|mum|mom|dad|folks|where i grew up|childhood)\b"
    r"[^.?!]{0,40}\b(?:got )?to do with\b"
    r"|\bnone of (?:[\w]+['\u2019]?s? ){0,2}business\b|\bwhat business is it of\b"
)
"""Why keyq asks about a parent ("why do you need to know what my dad did"), whose words say
nothing on their own (mum and dad are GENERIC), what answering does for the person asked
("social workers keep asking what's in it for them"), what someone's family has to do with
their job ("whats my family background got to do with stacking shelves"), or that it is none
of the employer's business ("officers say the question is none of our business")."""
WHY_FACT = "f_why_parents"
HEADCOUNT = re.compile(
    r"(?<![\d,.])\b(\d{1,3})\s*-?\s*(?:(?:permanent|full-?time|part-?time|frontline|front-line"
    r"|core|paid|salaried|seasonal|contracted|direct)\s+)?"
    r"(?:people|staff|employees|workers|colleagues|person|strong|crew|hands)\b"
    r"|\bteam of (\d{1,3})\b(?![,.]\d)|(?<![\d,.])\b(\d{1,3}) of us\b"
    r"|\b(?:firm|company|organi[sz]ation|business|employer|charity|practice|agency|studio"
    r"|nursery|salon|office|shop|consultancy)\s+of\s+(\d{1,3})\b(?![,.]\d)"
    r"(?!\s*(?:%|per|years?|months?|weeks?|sites?|branches|offices|shops|stores|locations)\b)"
)
"""A headcount of up to three digits, never the end of a larger one ("2,000 staff"), given
as people or as the size of the organisation ("an agency of 9")."""
FEW_ANSWERED = re.compile(
    r"\b(?:only|just|if|when)\s+(?:\w+\s+)?[1-9]\s+(?:[\w']+\s+){0,4}?"
    r"(?:answer(?:ed|s)?|respond(?:ed|s)?|repl(?:y|ied|ies)|fill(?:ed|s)? (?:it )?in"
    r"|took part|take part|did it)\b"
    r"|(?<![\d,.])\b[1-9]\s+(?:responses|answers|replies|returns)\b"
)
"""Fewer than 10 answers, counted by the asker ("if only 6 people in our lab answered, can I
see their split?"): what the threshold is about, and not a headcount."""
THRESHOLD_FACT = "f_threshold"
MANY_UNITS = re.compile(
    r"(?<![\d,.])\b(\d{1,3}(?:,\d{3})+|\d+)\s+(?:shops|stores|branches|sites|depots|offices"
    r"|locations|outlets|pubs|restaurants|cafes|salons|hotels|garages|surgeries|practices)\b"
)
"""Ten or more sites, shops or branches: a small headcount beside them is each one's ("300
shops, most have 3 staff"), too few to report a shop on, not a small organisation."""
COUNT = r"(\d{1,3}(?:,\d{3})+|\d+)"
"""A whole number of people, thousands separated or not ("2,000", "450"): read by ``count``."""
ORGANISATION_SIZE = re.compile(
    r"\b(?:firm|company|organi[sz]ation|business|employer|charity|practice|trust|school"
    r"|agency|group|workforce|headcount)\s+(?:of\s+|is\s+)?(?:about\s+|around\s+|over\s+)?"
    + COUNT
    + r"\b(?!\s*%)|\b"
    + COUNT
    + r"\s*\+?\s*(?:people|staff|employees|workers|colleagues)\b"
)
"""An organisation's size, named ("a firm of 200", "2,000 staff", "headcount is 450"): 50 or
more means the small-organisation fact is not the answer, whatever else the words say."""
FIGURE_CUES = re.compile(
    r"\bwhat (?:%|percent)|\b(?:split|share|proportion|average|typical(?:ly)?|normal|expect\w*"
    r"|benchmark\w*|compar\w*|stack up|look(?:s)? like|figures?|numbers|stats|statistics)\b"
    r"|\bwhere (?:do|does|would|will) .{0,40}\b(?:sit|stand|fall|rank)\b"
)
"""Asking for a figure or a comparison ("what's the split", "how do we stack up"); a figure
given ("90% of our trainees") is not one asked for."""
SECTOR_BONUS = 5.0
"""Added to the benchmark fact when a question names a sector and asks for a figure ("what
should an architecture practice expect"): the sector's own words are no guidance words."""
BENCHMARK_FACT = "f_benchmark"
DENSE_WEIGHT = 4.0
"""How much sentence similarity counts against the lexical score scaled to 1 for the best hit
(chosen by cross-validation inside the tuning half: bench/guidance_tune.py)."""
LEXICAL_WEIGHT = 0.5
"""How much the lexical score (scaled to 1 for the best hit) counts in the fused score. It was
1.0, chosen when the tuning half was a few hundred questions. Leaving each batch out of the
tuning half, on batches 15-31 (which the sentence model never learnt from): 463 of 549 right
first at 1.0 (classifier 0.5); 469, 471 and 474 at 0.8, 0.67 and 0.57 (classifier at half the
lexical weight); 476 at 0.5; 474 at 0.4; 476 at 0.29 (classifier 0.29). Top-3 528-531 and
off-topic answers 1 of 87 throughout. A plateau from about 0.57 down; 0.5 is inside it.
Every batch left out: 1,207 -> 1,222 of 1,348."""
EXAMPLE_WEIGHT = 0.0
CLASSIFIER_WEIGHT = 0.25
"""How much the classifier's probability for an item's block or fact adds to its fused score
(guidance/classifier.py; chosen by cross-validation inside the tuning half, 0.5 against a
lexical weight of 1.0, and halved with it)."""
SPELLING_CUTOFF = 0.84
"""How alike (difflib's ratio) a word the guidance does not know must be to one it knows to be
read as that word misspelt ("progresion"); 0 turns correction off (chosen on the tuning half)."""
ONE_WORD_FLOOR = 0.4
"""A question with only one of the guidance's words must have at least this cosine with a tip or
a fact ("my laptop won't turn on" does not), or ``ASKED_FLOOR`` with a tuning question. Both
chosen by cross-validation on the tuning half, with the sentence model fine-tuned per fold
(tools/finetune_model.py --cross-validate; 0.25 and 0.45 before it was fine-tuned: its
contrastive training draws sentences nearer, off-topic ones included; 0.4 and 0.5 before the
off-topic questions were drawn together and ``OFF_MARGIN`` checked)."""
NO_WORD_FLOOR: float | None = 0.6
"""A question with none of the guidance's words ("good people leave after a year, how do we
keep them") is answered by its meaning alone when its cosine with a tip or a fact reaches this,
or this plus ``ASKED_GAP`` with a tuning question, and it is not nearer an off-topic question;
None: such a question gets nothing. Chosen by leaving each batch of the tuning half out in turn
(0.55 scored the same, 0.5 answered an off-topic request), then checked with the sentence model
fine-tuned per fold (tools/finetune_model.py --cross-validate --grid meaning: 85.6% top-1,
95.8% top-3, 5 of 104 off-topic answered, against 85.5%, 95.7%, 5 with None; 0.55 the same,
0.5 or two words 6 to 8 off-topic); before it, every such question got the blocks menu."""
ASKED_GAP = 0.05
MEANING_WORDS = 3
"""Words (beyond stop words) a question needs to be answered by its meaning alone: "we have
300 staff" says too little to answer."""
ASKED_FLOOR = 0.45
"""Tuning questions are short questions like any other, so one must be nearer than a tip or a
fact: with one floor for both, "we're out of milk in the kitchen" passed, as near as 0.32 to
"the after work drinks culture leaves some people out"."""
OFF_MARGIN = 0.0
"""A question nearer (by more than this) to an off-topic question asked before than to any tip,
fact or on-topic question is off-topic itself, whatever guidance words it has ("who's covering
my break": "cover" and "break" are the guidance's words). The off-topic questions are the
tuning half's, and the sentence model learnt to draw them together. Chosen by cross-validation
on the tuning half with the model fine-tuned per fold (tools/finetune_model.py): off-topic
answers 5 -> 1 of 80, no question lost (-0.05 lost one; 0.1 let 3 through)."""
_MEANT_TO = r"\bmeant to (?:pick|tap|press|choose|click|tick)\b|\bmis-?(?:click|tap)"
"""A slip told outright ("meant to pick", "misclicked"), in both patterns below."""
MISTAKE = re.compile(
    r"\b(?:pressed|tapped|clicked|picked|chose|chosen|ticked|selected|hit|answered)\b"
    r"[^.?!]{0,40}\b(?:by (?:accident|mistake)|wrong|meant)\b"
    r"|\bwrong (?:option|button|box|answer)\b|" + _MEANT_TO
)
"""Someone who answered and got it wrong ("pressed professional by accident"): about changing
an answer, whatever group the sentence names; a tap or a choice must be in it ("our managers
became managers by accident" is not)."""
WRONG_TAP = re.compile(
    r"\b(?:pressed|tapped|clicked|hit|ticked|selected)\b[^.?!]{0,20}\b(?:by (?:accident|mistake)"
    r"|wrong (?:option|button|box|answer|one))\b|" + _MEANT_TO
)
"""A wrong tap told with no guidance word in it ("hit the wrong button, ugh"): on topic all the
same. Narrower than ``MISTAKE``: "picked the wrong size uniform" is not about keyq."""
DELETE_FACT = "f_delete"
OWN_ANSWER = re.compile(
    r"\bmy (?:answer|response|reply|choice|details)\b|\baffects? my\b|\bagainst me\b|"
    r"\bwhat i (?:said|picked|chose|put|ticked|answered)\b|\bi (?:answered|picked|chose|ticked)\b"
)
"""Someone asking about their own answer: the staff-side facts fit ("can HR see my answer?")."""
CHANGE_OWN = re.compile(
    r"\b(?:change|changing|edit|amend|update|redo|undo|correct|remove|delete|wipe|withdraw)\b"
    r"[^.?!]{0,20}\b(?:my (?:answer|response|reply|choice)|what i (?:said|picked|chose|put|ticked"
    r"|answered|wrote))\b"
    r"|\b(?:another|a second|second) (?:go|try|attempt|shot) at (?:the |this |that |my )?"
    r"(?:question|answer|it)\b"
)
"""Someone who wants to change or take back their own answer ("can i change what i put last
week", "can i have another go at the question"), told with or without a guidance word: how
to change an answer answers first."""
OTHER_BESIDE = re.compile(
    r"\bother(?=\s+(?:people|employers?|firms?|compan(?:y|ies)|organi[sz]ations?|business(?:es)?"
    r"|managers?|staff|teams?|colleagues|sectors?|industr(?:y|ies)|departments?|offices?|sites?"
    r"|places|ways?|things|surveys?|schemes?|roles?|jobs?|kids|children|parents)\b)",
    re.IGNORECASE,
)
""""other" before a noun ("other employers", "other people's kids") is not the "Other" answer
the fact of that name explains: the word is left out of the question's words (its meaning is
read whole by the sentence model)."""
CHOSE_OTHER = re.compile(
    r"\b(?:tick(?:ed|s|ing)?|pick(?:ed|s|ing)?|cho(?:se|ose|oses|osing|sen)|select(?:ed|s|ing)?"
    r"|went for|go for|going for|put|said|answered|press(?:ed)?|tapp?(?:ed)?)\s+"
    r"['\"\u2018\u201c]?other\b(?=['\"\u2019\u201d]?\s*(?:$|[.,;:!?)]"
    r"|(?:and|or|as|in|on|for|by|at|to|if|when|because|instead|but|so|then)\b))",
    re.IGNORECASE,
)
"""The "Other" answer, chosen ("loads of people ticked other", "what if i put 'other'"): what
that answer means and how it is counted, however the rest is put."""
OTHER_FACT = "f_other"
RELUCTANT = re.compile(
    r"^\W*(?:(?:i\s+)?(?:really\s+)?(?:do not|don['\u2019]?t|dont)\s+(?:really\s+)?"
    r"(?:want|wanna|fancy)\s+(?:to\s+)?(?:do|answer|fill|reply|respond|say|tell|take part)\b"
    r"|(?:i['\u2019]?d|id|i would)\s+(?:rather|sooner)\s+(?:not|pass|skip)\b"
    r"|(?:i['\u2019]?ll|ill|i will)\s+pass\b)"
)
"""Someone who would rather not answer, said first ("dont want to do it, is that ok", "id
sooner pass on this", "I'll pass"): whether they have to."""
VOLUNTARY_FACT = "f_voluntary"
MY_CONTACT = re.compile(
    r"\b(?:remove|delete|wipe|erase|scrap|bin|take|clear|get rid of)\b[^.?!]{0,25}"
    r"\bmy (?:phone |mobile |contact |personal )?(?:number|details|email|data|info)\b"
)
"""Someone who wants what keyq keeps about them gone ("pls take my number off this thing"):
what can be removed, and how."""
FILLERS = re.compile(r" (?:actually|really|honestly|properly|genuinely|truly|exactly|even)(?= )")
"""Words that only stress ("who actually reads these answers", "is it really anonymous"): left
out where a question is matched against the facts' phrases ("who reads", "is it anonymous")."""
OWN_ROLE = re.compile(
    r"^\s*(?:(?:i'?m|i am|as) (?:an? |the )?)?"
    r"(?:(?!(?:to|be|become|became|promoted|make|made|want|wants)\b)[\w&'-]+\s+){0,4}?"
    r"(?:supervisor|team leader|team lead|shift leader|shift lead)(?=(?:\s+here)?\s*[:.,;\u2013-])",
    re.IGNORECASE,
)
"""A supervisor or team leader introducing themselves ("courier hub supervisor: lads laugh at
anyone who talks posh", "call centre team leader: how do i pitch this to my agents"): the
asker's job, not promotion, so it is left out of the question's words (the sentence model
still reads it)."""
STAFF_LEAN = 1.35
FACT_LEAN = 1.35
HELP_LEAN = 1.25
_STEMMER = snowballstemmer.stemmer("english")
CLASS_WORDS = frozenset(_STEMMER.stemWords(["working", "class"]))
DEFINES = re.compile(
    r"\b(?:what (?:counts|is|does|makes|means)|whats|define|definition|meaning|mean|means|"
    r"counts? as|counted as|am i|is my|are we)\b"
)
"""With these, "working class" asks what it means; without them ("more working class managers",
"networks for working class staff") it is what every block is about, and says nothing about
which one."""
GENERIC = frozenset(
    _STEMMER.stemWords(
        "meet office mum dad change detail fix many win won night call bank code leave "
        "holiday annual my team staff help remind".split()
    )
)
"""Words in tags that say nothing about the topic on their own ("can you book a meeting")."""
_MULTI = sorted((k for k in SYNONYMS if " " in k), key=len, reverse=True)
RISE = re.compile(
    r"\b(?:become|becomes|became|becoming)(?= (?:an? )?(?:senior|head|lead|chief|principal"
    r"|(?:[a-z]+ )?(?:leaders?|managers?|supervisors?|partners?|directors?|foremen|foreman"
    r"|heads))\b)"
    r"|\b(?:make|makes|made|making)(?= (?:it to )?(?:partner|senior associate|associate director"
    r"|principal|the top|senior management|management)\b)"
    r"|\b(?:make|makes|made|making) it to(?= (?:[a-z]+ ){0,2}(?:grade|level|band)s?\b)"
    r"|\b(?:make|makes|made|making)(?= (?:editor|manager|supervisor|director|sergeant|inspector"
    r"|foreman|chef|consultant|matron|captain|superintendent)\b(?! (?:aware|accountable"
    r"|understand|see|think|feel|realise|realize)\b))"
    r"|\b(?:get|gets|got|getting)(?= to (?:be )?(?:an? )?(?!head office)(?:senior|head|lead|chief"
    r"|principal|inspectors?|sergeants?|(?:(?!the |our |their |see |meet |talk )[a-z]+ )?"
    r"(?:leaders?|managers?|supervisors?|partners?|directors?|heads))\b)"
    r"|\b(?:came|come|comes|coming|rose|rise|rises|rising|risen) up through\b"
    r"|\b(?:rose|rise|rises|rising|risen) through(?= the)\b"
)
"""Rising to a grade, as a trade names it ("practitioners rarely become room leaders", "porters
never become head porter", "nobody from a state school has made partner"): read as
progression. "Make" only before a grade that cannot be what is made ("make managers
accountable" is not about promotion). Coming up or rising through a route or the grades ("store
managers all came up through the pharmacist route") is the same rise, and so is getting to a
grade ("constables rarely get to inspector"; not "get to head office" or "get to the managers")
or making it to a grade, level or band ("lab techs never make it to scientist grade"), or making
one grade named alone ("reporters leave before making editor"; not "make managers accountable"
nor "make manager aware")."""


def normal(text: str) -> str:
    """Lower case, words and single spaces, with multi-word synonyms joined into one word."""
    text = re.sub(r"['\u2019](?:s|re|ve|ll|d|m|t)\b", "", text.casefold()).replace("n't", " not")
    text = " " + " ".join(re.findall(r"[a-z0-9]+(?:[-:][a-z0-9]+)*", text)) + " "
    text = RISE.sub("progression", text)
    for phrase in _MULTI:
        text = text.replace(f" {phrase} ", f" {SYNONYMS[phrase]} ")
    return text.strip()


@cache
def _stem(word: str) -> str:
    word = SYNONYMS.get(word, word)
    return str(_STEMMER.stemWord(word))


def stem(word: str) -> str:
    """A word as the index holds it: its synonym's, stemmed ("promoted" -> "progress")."""
    return _stem(word.casefold())


def tokens(text: str) -> list[str]:
    return [_stem(w) for w in normal(text).split() if w in KEEP or w not in STOPWORDS]


@dataclass(frozen=True)
class Asker:
    """Who is asking, as far as guidance needs to know."""

    role: Audience
    small_org: bool = False


@dataclass(frozen=True)
class Ranked:
    tip: Tip
    score: float


@dataclass(frozen=True)
class Hit:
    """A search result: a tip or a fact."""

    score: float
    tip: Tip | None = None
    fact: Fact | None = None

    @property
    def key(self) -> str:
        """The tip's block, or the fact's id (what an evaluation question expects)."""
        if self.fact is not None:
            return self.fact.id
        assert self.tip is not None
        return self.tip.block


class Ranker:
    """BM25 over each tip (title, text, tags twice, block name) and fact (title, phrases)."""

    def __init__(
        self,
        guidance: Guidance,
        fact_list: tuple[Fact, ...] | None = None,
        examples: tuple[Question, ...] | None = None,
    ) -> None:
        self.guidance = guidance
        self._tips = guidance.tips
        self.facts = facts() if fact_list is None else fact_list
        if examples is None:  # the tuning half only: the held-out half is never learnt from
            examples = tuple(q for q in questions() if q.split == "tune")
        self._examples = [q for q in examples if q.expect]
        # Off-topic questions asked before ("my locker key snapped"): one nearer to a question
        # than anything keyq answers marks that question as off-topic too.
        self._negatives = dense.embed([q.text for q in examples if not q.expect], remember=True)
        documents = []
        self._phrases: list[list[str]] = []
        for tip in self._tips:
            block = guidance.blocks[tip.block]
            words = " ".join((tip.title, tip.text, " ".join(tip.tags) * 2, block.name))
            documents.append(tokens(words))
            self._phrases.append([normal(t) for t in tip.tags if " " in t])
        for fact in self.facts:
            documents.append(tokens(" ".join((fact.title, " ".join(fact.phrases) * 2))))
            self._phrases.append([normal(p) for p in fact.phrases])
        for example in self._examples:
            documents.append(tokens(example.text))
            self._phrases.append([])
        # What the guidance is about: tags, phrases, titles and block names, not every word of
        # the tips' prose. A question needs one of these words before anything is an answer.
        keywords = [" ".join((*t.tags, t.title)) for t in self._tips]
        keywords += [" ".join((*f.phrases, f.title)) for f in self.facts]
        keywords += [b.name for b in guidance.blocks.values()]
        self._lexicon = frozenset(t for k in keywords for t in tokens(k)) - GENERIC
        # Every word the guidance, its facts, synonyms and the key question's occupations use,
        # by first letter and length: a word outside it may be a misspelling of one inside
        # ("recruting"). Not the examples' words: people's questions carry misspellings of
        # their own. A word with the stem of a known one ("solicitor", "solicitors") is known.
        kq = question()
        known = " ".join(
            [" ".join((t.title, t.text, t.why, *t.tags)) for t in self._tips]
            + [" ".join((f.title, f.answer, *f.phrases)) for f in self.facts]
            + [" ".join((*SYNONYMS, *SYNONYMS.values(), *STOPWORDS))]
            + [" ".join(kq.words(option)) for option in kq.options]
        )
        self._known = frozenset(re.findall(r"[a-z]+", known.casefold()))
        self._known_stems = frozenset(_STEMMER.stemWords(list(self._known)))
        self._spellings: dict[tuple[str, int], list[str]] = {}
        for word in self._known:
            self._spellings.setdefault((word[0], len(word)), []).append(word)
        self._bm25 = BM25Okapi(documents)
        # The same items for sentence similarity: a tip by its title, tags and text, a fact by
        # its title and phrases, a tuning question by its words (voting for what answered it).
        self._items = [t.id for t in self._tips] + [f.id for f in self.facts]
        self._targets = [q.expect[0] for q in self._examples]
        self._vectors = dense.embed(
            [text for text, _ in item_texts(self._tips, self.facts)]
            + [q.text for q in self._examples],
            remember=True,  # the same texts for every ranker a process builds
        )
        # Which block or fact a sentence is for, learnt from the same texts and questions.
        labels = [t.block for t in self._tips] + [f.id for f in self.facts] + self._targets
        self._classifier = classifier.learn(self._vectors, labels)

    def search(self, question: str, asker: Asker) -> list[Hit]:
        """Tips and facts best first; empty when nothing is relevant."""
        question = self.correct(question)
        words = OTHER_BESIDE.sub("", question)  # "other employers": not the "Other" answer
        words = OWN_ROLE.sub("", words)  # "site supervisor here, ...": who asks, not the topic
        query = tokens(words)
        job_fact = parent_job(question)
        folded = question.casefold()
        few_answered = FEW_ANSWERED.search(folded) is not None
        small = not few_answered and small_headcount(question)
        if small and any(count(m.group(1)) >= 10 for m in MANY_UNITS.finditer(folded)):
            small, few_answered = False, True  # a few staff in each of many shops
        why_parents = WHY_PARENTS.search(folded) is not None
        sector_figure = names_sector(folded) and (
            FIGURE_CUES.search(folded) is not None or sector_follow_up(folded)
        )
        about = set(query) & self._lexicon  # the question's words the guidance is about
        change_own = CHANGE_OWN.search(folded) is not None  # on topic whatever its words
        mistake = MISTAKE.search(folded) is not None or change_own
        wrong_tap = WRONG_TAP.search(folded) is not None
        chose_other = not mistake and CHOSE_OTHER.search(words) is not None
        own_cue = (
            VOLUNTARY_FACT
            if RELUCTANT.search(folded)
            else DELETE_FACT
            if MY_CONTACT.search(folded)
            else None
        )  # "dont want to do it", "take my number off this"
        meaning_only = False  # no word of the guidance's: answered only if the meaning is near
        if (not query and own_cue is None) or not (
            about
            or job_fact
            or small
            or few_answered
            or why_parents
            or sector_figure
            or wrong_tap
            or change_own
            or chose_other
            or own_cue
        ):
            if len(query) < MEANING_WORDS or NO_WORD_FLOOR is None:
                return []
            meaning_only = True
        text = f" {normal(words)} "
        on_topic = False  # "working class" is what keyq is about, whatever else the words say
        if " working class " in text and job_fact is None and not DEFINES.search(text):
            rest = [t for t in query if t not in CLASS_WORDS]
            if set(rest) & self._lexicon:
                query, text, on_topic = rest, text.replace(" working class ", " "), True
        scores = self._bm25.get_scores(query)
        aims = TARGET_CUES.search(text) is not None
        fact_like = aims or bool(FACT_CUES.search(text.strip()))
        help_like = not aims and bool(HELP_CUES.search(text))
        role = infer(question, asker)
        tip_scores: dict[str, float] = {}
        fact_scores: dict[str, float] = {}
        n_tips, n_facts = len(self._tips), len(self.facts)
        plain = FILLERS.sub("", text)  # "who actually reads": "who reads"
        for n, score in enumerate(scores):
            bonus = sum(
                PHRASE_BONUS * (1 + p.count(" ")) for p in self._phrases[n] if f" {p} " in plain
            )
            value = float(score) + bonus
            if value <= 0:
                continue
            if n < n_tips:
                tip_scores[self._tips[n].id] = value
            elif n < n_tips + n_facts:
                fact_id = self.facts[n - n_tips].id
                fact_scores[fact_id] = max(fact_scores.get(fact_id, 0.0), value)
        # A tuning question like this one votes for what answered it (by its words; with no
        # weight for that, it votes by sentence similarity alone, in _fuse).
        for n, score in enumerate(scores[n_tips + n_facts :] if EXAMPLE_WEIGHT > 0 else ()):
            if score <= 0:
                continue
            for target in self._examples[n].expect[:1]:
                value = float(score) * EXAMPLE_WEIGHT
                if target.startswith("f_"):
                    fact_scores[target] = max(fact_scores.get(target, 0.0), value)
                else:
                    best = self._best_tip(target, tip_scores, role)
                    tip_scores[best.id] = max(tip_scores.get(best.id, 0.0), value)
        if job_fact is not None:  # a parent's job, named: which group it is in
            fact_scores[job_fact] = fact_scores.get(job_fact, 0.0) + JOB_BONUS
            fact_like = True
        if mistake:  # "tapped professional but meant intermediate"
            fact_scores[DELETE_FACT] = fact_scores.get(DELETE_FACT, 0.0) + JOB_BONUS
            fact_like = True
        if why_parents:  # "why do you want to know what my dad did"
            fact_scores[WHY_FACT] = fact_scores.get(WHY_FACT, 0.0) + JOB_BONUS
            fact_like = True
        if chose_other:  # "loads of people ticked other"
            fact_scores[OTHER_FACT] = fact_scores.get(OTHER_FACT, 0.0) + JOB_BONUS
            fact_like = True
        if own_cue is not None:
            fact_scores[own_cue] = fact_scores.get(own_cue, 0.0) + JOB_BONUS
            fact_like = True
        if sector_figure:  # "in film and tv, what's the split?"
            fact_scores[BENCHMARK_FACT] = fact_scores.get(BENCHMARK_FACT, 0.0) + SECTOR_BONUS
            fact_like = True
        if small:  # "we're a nursery with 12 staff": what a small organisation can do
            fact_scores[SMALL_FACT] = fact_scores.get(SMALL_FACT, 0.0) + HEADCOUNT_BONUS
        if few_answered:  # "only 6 of us answered": why their figures are hidden
            fact_scores[THRESHOLD_FACT] = fact_scores.get(THRESHOLD_FACT, 0.0) + HEADCOUNT_BONUS
        lexical: dict[str, float] = {}
        for tip in self._tips:
            if tip.id in tip_scores:
                lexical[tip.id] = (
                    tip_scores[tip.id] * _fit(tip, role) * (HELP_LEAN if help_like else 1.0)
                )
        own = OWN_ANSWER.search(text) is not None
        for fact in self.facts:
            if fact.id in fact_scores:
                lexical[fact.id] = (
                    fact_scores[fact.id]
                    * (FACT_LEAN if fact_like else 1.0)
                    * (STAFF_LEAN if own and fact.audience == "staff" else 1.0)
                )
        if (not lexical or max(lexical.values()) < MINIMUM_SCORE) and not (
            on_topic or meaning_only
        ):
            return []
        vector = dense.embed([question])[0]  # never remembered
        similarity = self._vectors @ vector
        if meaning_only:
            floor = NO_WORD_FLOOR or 0.0
            if self._far(similarity, floor, floor + ASKED_GAP):
                return []
        cued = (
            job_fact is not None
            or why_parents
            or sector_figure
            or wrong_tap
            or change_own
            or chose_other
            or own_cue is not None
        )
        # One of the guidance's words, in a sentence about something else? The sentence must
        # mean something near a tip or a fact, or near a question asked before: those resemble
        # any short question in their style, so they need to be nearer.
        one_word = not cued and not on_topic and len(about) == 1
        if one_word and self._far(similarity, ONE_WORD_FLOOR, ASKED_FLOOR):
            return []
        if not cued and not on_topic and len(self._negatives):
            near_off = float((self._negatives @ vector).max())
            if near_off > float(similarity.max()) + OFF_MARGIN:
                return []
        tip_lean = HELP_LEAN if help_like else 1.0
        if own and not help_like:  # about one's own answer: a manager's tip rarely fits
            tip_lean /= STAFF_LEAN
        lean = (FACT_LEAN if fact_like else 1.0, tip_lean)
        probability = self._classifier.probabilities(vector)
        if own and not help_like:
            # About one's own answer ("will this affect my chances of promotion"): the
            # classifier learnt its blocks from managers' questions, and would name one here.
            probability = {k: v for k, v in probability.items() if k.startswith("f_")}
        hits = self._fuse(similarity, lexical, role, lean, probability)
        if not small and large_organisation(folded):  # "a firm of 200: worth it?"
            hits = [h for h in hits if h.key != SMALL_FACT]
        if mistake:  # a slip, whatever job it names: how to change an answer comes first
            hits.sort(key=lambda h: h.key != DELETE_FACT)
        elif job_fact is not None:  # the job's group answers first, whatever else is close
            hits.sort(key=lambda h: h.key != job_fact)
        elif chose_other:  # what the Other answer means and how it counts, however put
            hits.sort(key=lambda h: h.key != OTHER_FACT)
        return hits

    def _far(self, similarity: NDArray[np.float32], item_floor: float, asked_floor: float) -> bool:
        """Whether a question's cosines (``similarity``: each item, then each tuning question)
        reach neither ``item_floor`` with a tip or a fact nor ``asked_floor`` with a question
        asked before."""
        items = len(self._items)
        near_item = float(similarity[:items].max())
        near_asked = float(similarity[items:].max()) if len(similarity) > items else 0.0
        return near_item < item_floor and near_asked < asked_floor

    def correct(self, question: str) -> str:
        """The question with each word of five letters or more that is neither the
        guidance's nor common English replaced by the guidance's word it is closest to, when
        that is close enough: same first letter, length within two, difflib's ratio at least
        ``SPELLING_CUTOFF``."""
        if SPELLING_CUTOFF <= 0:
            return question
        return re.sub(r"[A-Za-z]{5,}", lambda m: self._spelling(m.group()), question)

    def _spelling(self, word: str) -> str:
        folded = word.casefold()
        if (
            folded in self._known
            or folded in dense.common_words()
            or _STEMMER.stemWord(folded) in self._known_stems
        ):
            return word
        candidates = [
            known
            for size in range(len(folded) - 2, len(folded) + 3)
            for known in self._spellings.get((folded[0], size), ())
        ]
        found = get_close_matches(folded, candidates, n=1, cutoff=SPELLING_CUTOFF)
        return found[0] if found else word

    def _fuse(
        self,
        similarity: NDArray[np.float32],
        lexical: dict[str, float],
        role: Asker,
        lean: tuple[float, float],
        probability: dict[str, float],
    ) -> list[Hit]:
        """Lexical scores (the best scaled to 1) plus sentence similarity (the question's cosine
        with each item, then each tuning question), leaning to facts or to tips as the
        question's shape says, plus the classifier's probability for the item's block or
        fact, best first."""
        fact_lean, tip_lean = lean
        top = max(lexical.values(), default=0.0) or 1.0
        words = {key: LEXICAL_WEIGHT * value / top for key, value in lexical.items()}
        close: dict[str, float] = {}
        for item, value in zip(self._items, similarity, strict=False):
            close[item] = max(close.get(item, -1.0), float(value))
        own = dict(close)  # each item's own similarity, before the tuning questions vote
        first_tip = {block: self.by_block(block, role)[0].id for block in self.guidance.blocks}
        for target, value in zip(self._targets, similarity[len(self._items) :], strict=True):
            target = first_tip.get(target, target)  # a block votes for its best tip here
            close[target] = max(close.get(target, -1.0), float(value))
        scores = [words.get(tip.id, 0.0) + DENSE_WEIGHT * close[tip.id] for tip in self._tips]
        # The classifier names a block, not a tip: its probability goes to the block's best
        # tip only, so one block does not fill the next places by that alone. The leans apply
        # to it as to the rest ("will this affect my chances of promotion" is about an answer).
        leader: dict[str, int] = {}
        for n, tip in enumerate(self._tips):
            if tip.block not in leader or scores[n] > scores[leader[tip.block]]:
                leader[tip.block] = n
        for block, n in leader.items():
            scores[n] += CLASSIFIER_WEIGHT * probability.get(block, 0.0)
        hits = [
            Hit(score * tip_lean, tip=tip) for score, tip in zip(scores, self._tips, strict=True)
        ]
        hits += [
            Hit(
                (
                    words.get(fact.id, 0.0)
                    + DENSE_WEIGHT * close[fact.id]
                    + CLASSIFIER_WEIGHT * probability.get(fact.id, 0.0)
                )
                * fact_lean,
                fact=fact,
            )
            for fact in self.facts
        ]
        hits.sort(key=lambda h: (-h.score, h.key))
        first = hits[0].tip
        if first is not None:
            # The votes say which block answers; within it, the tip nearest the question's own
            # words and meaning comes first ("apprenticeships": the tip about them).
            fits = {
                t.id: words.get(t.id, 0.0) + DENSE_WEIGHT * own[t.id]
                for t in self._tips
                if t.block == first.block
            }
            best = self._best_tip(first.block, fits, role)
            if best is not first and fits[best.id] > fits[first.id]:
                at = next(n for n, h in enumerate(hits) if h.tip is best)
                hits[0], hits[at] = Hit(hits[0].score, tip=best), Hit(hits[at].score, tip=first)
        return hits

    def _best_tip(self, block: str, scores: dict[str, float], asker: Asker) -> Tip:
        tips = self.by_block(block, asker)
        return max(tips, key=lambda t: (scores.get(t.id, 0.0), -tips.index(t)))

    def likely_blocks(self, question: str) -> list[str]:
        """Every building block, the likeliest for the question first (by the classifier):
        the order of the menu offered when nothing is relevant enough to answer with, so a
        question the ranker could not place still finds its block near the top."""
        blocks = list(dict.fromkeys(t.block for t in self._tips))
        if not tokens(question):
            return blocks
        probability = self._classifier.probabilities(dense.embed([question])[0])
        return sorted(blocks, key=lambda b: -probability.get(b, 0.0))

    def rank(self, question: str, asker: Asker) -> list[Ranked]:
        """Tips only, best first; empty when nothing is relevant to the question."""
        return [Ranked(h.tip, h.score) for h in self.search(question, asker) if h.tip]

    def by_block(self, block: str, asker: Asker) -> list[Tip]:
        """A block's tips, those suiting the asker first."""
        tips = [t for t in self._tips if t.block == block]
        return sorted(
            tips,
            key=lambda t: (
                asker.role not in t.suits,
                not (asker.small_org and Audience.SMALL_ORGS in t.suits),
            ),
        )


def _fit(tip: Tip, asker: Asker) -> float:
    boost = 1.0
    if asker.role in tip.suits:
        boost += 0.25
    if asker.small_org and Audience.SMALL_ORGS in tip.suits:
        boost += 0.35
    elif not asker.small_org and tip.suits == (Audience.SMALL_ORGS,):
        boost -= 0.3
    return boost


@cache
def _job_words() -> tuple[tuple[str, str, Option], ...]:
    """(words as matched, words as listed, option) for every occupation the key question lists
    for a group that has a fact, longest words first."""
    kq = question()
    listed = {
        normal(word): (word, option)
        for option in kq.options
        if option.group in GROUP_FACT
        for word in kq.words(option)
    }
    found = ((w, word, option) for w, (word, option) in listed.items() if w)
    return tuple(sorted(found, key=lambda p: -len(p[0])))


OWN_JOB_BEFORE = re.compile(r"(?:^ as an?|\bi(?: am)? an?|\bi work as an?|\b(?:my|our|your))$")
"""Words before a job that make it the asker's own or a colleague, not a parent's: "I'm a
nurse", "as a teacher, ...", "my supervisor" (matched on the normalised text before it); not
when the job is followed by the parent it is ("my nurse mum")."""
EARNER_NEXT = re.compile(r" (?:" + EARNER + r")")


def _jobs_in(text: str) -> list[tuple[int, str, Option]]:
    """(where, words as listed, option) for each listed occupation in normalised ``text``,
    longest first; a job inside a longer one found ("nurse" in "nursery nurse") is left out,
    and so is one the asker holds or a colleague is ("I'm a nurse", "engineer here", "my
    supervisor")."""
    found: list[tuple[int, int, str, Option]] = []
    for words, word, option in _job_words():
        at = text.find(f" {words} ")
        end = at + len(words) + 1
        if at >= 0 and not any(s <= at and end <= e for s, e, _, _ in found):
            found.append((at, end, word, option))
    return [
        (at, word, option)
        for at, end, word, option in found
        if EARNER_NEXT.match(text, end)
        or not (OWN_JOB_BEFORE.search(text[:at]) or text.startswith(" here ", end))
    ]


def _named(text: str) -> list[tuple[int, str, Option]]:
    """``_jobs_in`` normalised, padded ``text``, with the owner of a business as one more
    ("mum ran a salon": no listed word says it) and no job inside what they ran ("his own
    plumbing firm": no plumber)."""
    found = _jobs_in(text)
    owner = question().owner(text)
    if owner is None:
        return found
    option, start, end = owner
    inside = [f for f in found if start <= f[0] + 1 < end]  # f[0]: the space before the job
    if any(o == option for _, _, o in inside):  # "dad ran a pub": the listed words say it
        return found
    return [(start, "own business", option)] + [f for f in found if f not in inside]


def parent_job(question_text: str) -> str | None:
    """The group fact for a question that names a job beside a parent ("my dad was a
    carpenter", "mum ran a salon") or a group ("is a shop manager working class?"); the fact on
    whose job counts when it names parents' jobs in different groups; or None."""
    text = f" {normal(question_text)} "
    named = PARENT.search(text) is not None
    group = GROUP_AFTER_JOB.search(text)
    if not named and group is None:
        return None
    jobs = [
        option
        for at, _, option in _named(text)
        if named or (group is not None and at < group.start())
    ]
    if named and len({option.group for option in jobs}) > 1:
        # "mum was a nurse, dad a builder - which one?": whose job counts is the question
        return EARNER_FACT
    return GROUP_FACT[jobs[0].group] if jobs else None


def named_jobs(question_text: str) -> list[tuple[str, Option]]:
    """The key question's occupations a question names, in the order it names them, each as
    the key question lists it and with its option ("nurse mum and builder dad": nurse, then
    builder). A job inside a longer one ("nurse" in "nursery nurse") is the longer one."""
    found = sorted(_named(f" {normal(question_text)} "), key=lambda f: f[0])
    return [(word, option) for _, word, option in found]


def item_texts(tips: tuple[Tip, ...], fact_list: tuple[Fact, ...]) -> list[tuple[str, str]]:
    """What the sentence model reads of each tip (its title, tags and text) and fact (its title
    and phrases), with the block or fact it stands for."""
    return [(f"{t.title}. {' '.join(t.tags)}. {t.text}", t.block) for t in tips] + [
        (f"{f.title}. {'; '.join(f.phrases)}", f.id) for f in fact_list
    ]


def small_headcount(question: str) -> bool:
    """Whether the question gives a headcount under 50 ("we have 12 staff", "team of 8")."""
    found = HEADCOUNT.search(question.casefold())
    return found is not None and int(next(g for g in found.groups() if g)) < SMALL_ORG_PEOPLE


def large_organisation(folded: str) -> bool:
    """Whether casefolded text names an organisation of ``SMALL_ORG_PEOPLE`` or more."""
    return any(
        count(found.group(1) or found.group(2)) >= SMALL_ORG_PEOPLE
        for found in ORGANISATION_SIZE.finditer(folded)
    )


def count(number: str) -> int:
    """A number matched by ``COUNT`` ("2,000" is 2000)."""
    return int(number.replace(",", ""))


def infer(question: str, asker: Asker) -> Asker:
    """Refines the asker from what the question says about them."""
    text = question.casefold()
    small = asker.small_org or any(w in text for w in SMALL_WORDS)
    people = re.search(
        r"\b(?:we(?:'re| are)|we have|there are|only|of)\s+" + COUNT + r"\s*"
        r"(?:people|staff|employees)?",
        text,
    )
    if people and count(people.group(1)) < SMALL_ORG_PEOPLE:
        small = True
    role = asker.role
    if any(w in text for w in LINE_MANAGER_WORDS):
        role = Audience.LINE_MANAGERS
    elif any(w in text for w in LEADER_WORDS):
        role = Audience.LEADERS
    return Asker(role=role, small_org=small)

//! The one i18n mechanism of the UI: every string a page shows comes from these catalogs.
//! English is the reference; French must have exactly the same keys (tested), and every key
//! a template names must exist (tested by scanning the templates).

use axum::http::HeaderMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Fr,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Fr];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().get(..2).map(|p| p.to_ascii_lowercase()).as_deref() {
            Some("en") => Some(Lang::En),
            Some("fr") => Some(Lang::Fr),
            _ => None,
        }
    }

    /// The first supported language of an Accept-Language header (quality order is the
    /// order browsers send).
    pub fn from_accept_language(headers: &HeaderMap) -> Option<Lang> {
        let v = headers
            .get(axum::http::header::ACCEPT_LANGUAGE)?
            .to_str()
            .ok()?;
        v.split(',')
            .map(|part| part.split(';').next().unwrap_or(""))
            .find_map(Lang::parse)
    }

    fn catalog(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Lang::En => EN,
            Lang::Fr => FR,
        }
    }

    /// The text for `key`; a missing key shows the key itself (and the tests fail).
    pub fn t(self, key: &str) -> &'static str {
        lookup(self.catalog(), key)
            .or_else(|| lookup(EN, key))
            .unwrap_or("??")
    }
}

fn lookup(cat: &'static [(&'static str, &'static str)], key: &str) -> Option<&'static str> {
    cat.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

pub static EN: &[(&str, &str)] = &[
    ("app.name", "firewatch"),
    ("app.skip", "Skip to content"),
    ("nav.queue", "Queue"),
    ("nav.safety", "Safety"),
    ("nav.social", "Social"),
    ("nav.admin", "Admin"),
    ("nav.report", "Report an incident"),
    ("nav.logout", "Log out"),
    ("nav.login", "Log in"),
    ("nav.signed_in_as", "Signed in as"),
    ("lang.label", "Language"),
    ("lang.en", "English"),
    ("lang.fr", "Français"),
    ("login.title", "Log in"),
    ("login.user", "User name"),
    ("login.password", "Password"),
    ("login.submit", "Log in"),
    ("login.failed", "Wrong user name or password."),
    ("login.locked", "Too many failed attempts. Try again later."),
    ("login.required", "Please log in to see this page."),
    ("error.title", "Something went wrong"),
    ("error.forbidden", "Your role may not open this page."),
    ("error.not_found", "Not found."),
    (
        "error.csrf",
        "The form expired or did not come from this site. Reload the page and try again.",
    ),
    ("error.back", "Back"),
    ("queue.title", "Cases queue"),
    ("queue.filters", "Filters"),
    ("queue.severity", "Severity"),
    ("queue.status", "Status"),
    ("queue.any", "Any"),
    ("queue.mine", "Only mine"),
    ("queue.include_closed", "Include resolved and closed"),
    ("queue.apply", "Apply"),
    ("queue.case", "Case"),
    ("queue.title_col", "Title"),
    ("queue.product", "Product"),
    ("queue.next_clock", "Next deadline"),
    ("queue.assignee", "Assignee"),
    ("queue.empty", "No case matches these filters."),
    ("queue.next", "Next page"),
    ("queue.prev", "Previous page"),
    ("queue.none", "none"),
    ("case.title", "Case"),
    ("case.summary", "Summary"),
    ("case.status", "Status"),
    ("case.severity", "Severity"),
    ("case.hazards", "Hazards"),
    ("case.assignee", "Assignee"),
    ("case.country", "Country"),
    ("case.channel", "Channel"),
    ("case.reports", "Reports"),
    ("case.narrative", "Narrative"),
    (
        "case.evidence_hint",
        "Highlighted words are the evidence for each hazard found.",
    ),
    ("case.photos", "Photos"),
    ("case.products", "Products"),
    ("case.clocks", "Clocks"),
    ("case.clock", "Clock"),
    ("case.deadline", "Deadline"),
    ("case.time_left", "Time left"),
    ("case.overdue", "overdue"),
    ("case.state", "State"),
    ("case.remedies", "Remedies"),
    ("case.allowed", "Allowed by the playbook"),
    ("case.kind", "Kind"),
    ("case.pays", "Customer pays (%)"),
    ("case.amount", "Amount"),
    ("case.note", "Note"),
    ("case.propose", "Propose remedy"),
    ("case.policy", "Policy"),
    ("case.rule", "Rule"),
    ("case.refused", "Refused by the playbook"),
    ("case.needs_approval", "Waits for approval by"),
    ("case.proposed_ok", "Remedy proposed."),
    ("case.reason", "Written reason"),
    ("case.approve", "Approve"),
    ("case.approve_exception", "Approve an exception"),
    ("case.reject", "Reject"),
    ("case.decided", "Decision recorded."),
    ("case.escalations", "Escalations"),
    ("case.mentions", "Mentions"),
    ("case.reach", "Reach"),
    ("case.timeline", "Timeline"),
    ("case.notes", "Notes"),
    ("case.add_note", "Add note"),
    ("case.transition", "Change status"),
    ("case.move", "Move"),
    ("case.tasks", "Tasks"),
    ("case.blockers", "Before it can be resolved"),
    ("case.none", "None."),
    ("case.dossier", "Dossier"),
    ("remedy.refund", "Refund"),
    ("remedy.replacement", "Replacement"),
    ("remedy.repair", "Repair"),
    ("remedy.discount", "Discount"),
    ("remedy.goodwill", "Goodwill gesture"),
    ("report.title", "Report a product safety incident"),
    (
        "report.intro",
        "Tell us what happened. Fields marked * are required.",
    ),
    ("report.narrative", "What happened? *"),
    ("report.brand", "Brand"),
    ("report.model", "Model"),
    ("report.country", "Country (two letters, e.g. FR)"),
    ("report.occurred", "Date of the incident"),
    ("report.injuries", "Was anyone hurt?"),
    ("report.injury.unknown", "I don't know"),
    ("report.injury.none", "No"),
    ("report.injury.minor", "Minor injury"),
    ("report.injury.serious", "Serious injury"),
    ("report.injury.fatal", "Fatal"),
    ("report.name", "Your name"),
    ("report.email", "Your e-mail"),
    ("report.photos", "Photos (JPEG, PNG or WebP)"),
    ("report.submit", "Send report"),
    ("report.done_title", "Thank you"),
    (
        "report.done",
        "Your report was received. Your reference number is",
    ),
    ("report.keep", "Keep this number if you contact us again."),
    ("report.invalid", "Please check the form:"),
    (
        "report.rate",
        "Too many reports from this address; please try again later.",
    ),
    ("safety.title", "Safety dashboard"),
    ("safety.signals", "Defect signals"),
    ("safety.signal", "Signal"),
    ("safety.hazard", "Hazard"),
    ("safety.count", "Reports (365 d)"),
    ("safety.rate", "Rate per million"),
    ("safety.ebgm", "EB05"),
    ("safety.opened", "Opened"),
    ("safety.chart", "Monthly incidents against expected"),
    ("safety.observed", "Observed"),
    ("safety.expected", "Expected"),
    ("safety.band", "95% interval of expected"),
    ("safety.none", "No signal."),
    (
        "safety.unavailable",
        "Signals are not enabled on this server.",
    ),
    ("safety.cases", "Linked cases"),
    ("social.title", "Social monitor"),
    ("social.mentions", "Mentions"),
    ("social.author", "Author"),
    ("social.text", "Post"),
    ("social.forecast", "Forecast final reach"),
    ("social.p_exceed", "P(over threshold)"),
    ("social.engagements", "Engagements"),
    ("social.curve", "Reach forecast"),
    ("social.none", "No mention."),
    ("admin.title", "Administration"),
    ("admin.users", "Users"),
    ("admin.user", "User"),
    ("admin.role", "Role"),
    ("admin.password_set", "Password"),
    ("admin.disabled", "Disabled"),
    ("admin.add_user", "Add user"),
    ("admin.set_password", "Set password"),
    ("admin.tokens", "Tokens"),
    ("admin.products", "Products"),
    ("admin.exposure", "Exposure upload (CSV)"),
    ("admin.upload", "Upload"),
    ("admin.playbook", "Playbook"),
    ("admin.validate", "Validate"),
    ("admin.reload", "Validate and apply"),
    ("admin.connectors", "Connectors"),
    ("admin.outbox", "Webhook and e-mail outbox"),
    ("admin.dead", "Dead letters"),
    ("admin.retry", "Retry"),
    ("admin.done", "Done."),
    ("admin.yes", "yes"),
    ("admin.no", "no"),
    ("admin.version", "Version"),
    ("admin.cursor", "Cursor"),
    ("admin.errors", "Errors"),
    ("admin.api_tokens", "API tokens"),
    ("admin.token_id", "Id"),
    ("admin.token_label", "Label"),
    ("admin.token_created_at", "Created"),
    ("admin.token_revoked_at", "Revoked"),
    ("admin.token_active", "active"),
    ("admin.create_token", "Create token"),
    ("admin.revoke", "Revoke"),
    (
        "admin.token_created",
        "Token created. Copy it now: it is shown only once and only its hash is stored.",
    ),
    ("admin.token_for", "New token for"),
    (
        "admin.token_label_invalid",
        "A label has at most 100 characters and no control characters.",
    ),
    ("admin.no_tokens", "No tokens."),
    ("status.new", "new"),
    ("status.triaged", "triaged"),
    ("status.in_progress", "in progress"),
    ("status.waiting_customer", "waiting for the customer"),
    ("status.resolved", "resolved"),
    ("status.closed", "closed"),
    ("status.reopened", "reopened"),
    ("remedy_status.proposed", "proposed"),
    ("remedy_status.pending_approval", "waiting for approval"),
    ("remedy_status.approved", "approved"),
    ("remedy_status.refused", "refused"),
    ("remedy_status.accepted", "accepted"),
    ("remedy_status.fulfilled", "fulfilled"),
    // Statements (issue 11): the case page's list and the statement page.
    ("statement.section", "Statements"),
    ("statement.title", "Statement"),
    ("statement.kind", "Kind"),
    ("statement.language", "Language"),
    ("statement.version", "Version"),
    ("statement.open", "Open"),
    ("statement.draft", "Draft a statement"),
    ("statement.drafted", "Statement drafted."),
    ("statement.back", "Back"),
    ("statement.refused", "Refused"),
    ("statement.author", "Author"),
    ("statement.published_by", "Published by"),
    ("statement.body", "Text"),
    (
        "statement.findings_hint",
        "The checker's findings are highlighted in the text; hover for the rule and message.",
    ),
    ("statement.findings", "Checker findings"),
    ("statement.blocking", "blocking:"),
    ("statement.approvals", "Decisions"),
    ("statement.decide", "Approve, reject, publish"),
    (
        "statement.override",
        "Override reason (hq, blocking findings only)",
    ),
    ("statement.publish", "Publish"),
    ("statement.published_ok", "Statement published."),
    ("statement_kind.customer_reply", "Customer reply"),
    ("statement_kind.public_statement", "Public statement"),
    ("statement_kind.recall_notice", "Recall notice"),
    ("statement_status.draft", "draft"),
    ("statement_status.rejected", "rejected"),
    ("statement_status.published", "published"),
    ("finding_severity.error", "Error"),
    ("finding_severity.warning", "Warning"),
];

pub static FR: &[(&str, &str)] = &[
    ("app.name", "firewatch"),
    ("app.skip", "Aller au contenu"),
    ("nav.queue", "File"),
    ("nav.safety", "Sécurité"),
    ("nav.social", "Réseaux"),
    ("nav.admin", "Administration"),
    ("nav.report", "Signaler un incident"),
    ("nav.logout", "Se déconnecter"),
    ("nav.login", "Se connecter"),
    ("nav.signed_in_as", "Connecté en tant que"),
    ("lang.label", "Langue"),
    ("lang.en", "English"),
    ("lang.fr", "Français"),
    ("login.title", "Connexion"),
    ("login.user", "Nom d'utilisateur"),
    ("login.password", "Mot de passe"),
    ("login.submit", "Se connecter"),
    (
        "login.failed",
        "Nom d'utilisateur ou mot de passe incorrect.",
    ),
    (
        "login.locked",
        "Trop de tentatives échouées. Réessayez plus tard.",
    ),
    ("login.required", "Connectez-vous pour voir cette page."),
    ("error.title", "Une erreur est survenue"),
    (
        "error.forbidden",
        "Votre rôle ne permet pas d'ouvrir cette page.",
    ),
    ("error.not_found", "Introuvable."),
    (
        "error.csrf",
        "Le formulaire a expiré ou ne vient pas de ce site. Rechargez la page et réessayez.",
    ),
    ("error.back", "Retour"),
    ("queue.title", "File des dossiers"),
    ("queue.filters", "Filtres"),
    ("queue.severity", "Gravité"),
    ("queue.status", "Statut"),
    ("queue.any", "Tous"),
    ("queue.mine", "Seulement les miens"),
    ("queue.include_closed", "Inclure résolus et clos"),
    ("queue.apply", "Appliquer"),
    ("queue.case", "Dossier"),
    ("queue.title_col", "Titre"),
    ("queue.product", "Produit"),
    ("queue.next_clock", "Prochaine échéance"),
    ("queue.assignee", "Responsable"),
    ("queue.empty", "Aucun dossier ne correspond à ces filtres."),
    ("queue.next", "Page suivante"),
    ("queue.prev", "Page précédente"),
    ("queue.none", "aucune"),
    ("case.title", "Dossier"),
    ("case.summary", "Résumé"),
    ("case.status", "Statut"),
    ("case.severity", "Gravité"),
    ("case.hazards", "Dangers"),
    ("case.assignee", "Responsable"),
    ("case.country", "Pays"),
    ("case.channel", "Canal"),
    ("case.reports", "Signalements"),
    ("case.narrative", "Récit"),
    (
        "case.evidence_hint",
        "Les mots surlignés sont les preuves de chaque danger trouvé.",
    ),
    ("case.photos", "Photos"),
    ("case.products", "Produits"),
    ("case.clocks", "Délais"),
    ("case.clock", "Délai"),
    ("case.deadline", "Échéance"),
    ("case.time_left", "Temps restant"),
    ("case.overdue", "dépassé"),
    ("case.state", "État"),
    ("case.remedies", "Solutions"),
    ("case.allowed", "Autorisées par le playbook"),
    ("case.kind", "Type"),
    ("case.pays", "Part payée par le client (%)"),
    ("case.amount", "Montant"),
    ("case.note", "Note"),
    ("case.propose", "Proposer la solution"),
    ("case.policy", "Politique"),
    ("case.rule", "Règle"),
    ("case.refused", "Refusée par le playbook"),
    ("case.needs_approval", "En attente d'approbation par"),
    ("case.proposed_ok", "Solution proposée."),
    ("case.reason", "Motif écrit"),
    ("case.approve", "Approuver"),
    ("case.approve_exception", "Approuver une exception"),
    ("case.reject", "Rejeter"),
    ("case.decided", "Décision enregistrée."),
    ("case.escalations", "Escalades"),
    ("case.mentions", "Mentions"),
    ("case.reach", "Portée"),
    ("case.timeline", "Historique"),
    ("case.notes", "Notes"),
    ("case.add_note", "Ajouter une note"),
    ("case.transition", "Changer le statut"),
    ("case.move", "Déplacer"),
    ("case.tasks", "Tâches"),
    ("case.blockers", "Avant de pouvoir le résoudre"),
    ("case.none", "Aucun."),
    ("case.dossier", "Dossier complet"),
    ("remedy.refund", "Remboursement"),
    ("remedy.replacement", "Remplacement"),
    ("remedy.repair", "Réparation"),
    ("remedy.discount", "Remise"),
    ("remedy.goodwill", "Geste commercial"),
    ("report.title", "Signaler un incident de sécurité produit"),
    (
        "report.intro",
        "Racontez-nous ce qui s'est passé. Les champs marqués * sont obligatoires.",
    ),
    ("report.narrative", "Que s'est-il passé ? *"),
    ("report.brand", "Marque"),
    ("report.model", "Modèle"),
    ("report.country", "Pays (deux lettres, ex. FR)"),
    ("report.occurred", "Date de l'incident"),
    ("report.injuries", "Quelqu'un a-t-il été blessé ?"),
    ("report.injury.unknown", "Je ne sais pas"),
    ("report.injury.none", "Non"),
    ("report.injury.minor", "Blessure légère"),
    ("report.injury.serious", "Blessure grave"),
    ("report.injury.fatal", "Décès"),
    ("report.name", "Votre nom"),
    ("report.email", "Votre e-mail"),
    ("report.photos", "Photos (JPEG, PNG ou WebP)"),
    ("report.submit", "Envoyer le signalement"),
    ("report.done_title", "Merci"),
    (
        "report.done",
        "Votre signalement a bien été reçu. Votre numéro de référence est",
    ),
    ("report.keep", "Gardez ce numéro si vous nous recontactez."),
    ("report.invalid", "Veuillez vérifier le formulaire :"),
    (
        "report.rate",
        "Trop de signalements depuis cette adresse ; réessayez plus tard.",
    ),
    ("safety.title", "Tableau de bord sécurité"),
    ("safety.signals", "Signaux de défaut"),
    ("safety.signal", "Signal"),
    ("safety.hazard", "Danger"),
    ("safety.count", "Signalements (365 j)"),
    ("safety.rate", "Taux par million"),
    ("safety.ebgm", "EB05"),
    ("safety.opened", "Ouvert le"),
    ("safety.chart", "Incidents mensuels comparés à l'attendu"),
    ("safety.observed", "Observé"),
    ("safety.expected", "Attendu"),
    ("safety.band", "Intervalle à 95 % de l'attendu"),
    ("safety.none", "Aucun signal."),
    (
        "safety.unavailable",
        "Les signaux ne sont pas activés sur ce serveur.",
    ),
    ("safety.cases", "Dossiers liés"),
    ("social.title", "Veille des réseaux"),
    ("social.mentions", "Mentions"),
    ("social.author", "Auteur"),
    ("social.text", "Publication"),
    ("social.forecast", "Portée finale prévue"),
    ("social.p_exceed", "P(au-delà du seuil)"),
    ("social.engagements", "Interactions"),
    ("social.curve", "Prévision de portée"),
    ("social.none", "Aucune mention."),
    ("admin.title", "Administration"),
    ("admin.users", "Utilisateurs"),
    ("admin.user", "Utilisateur"),
    ("admin.role", "Rôle"),
    ("admin.password_set", "Mot de passe"),
    ("admin.disabled", "Désactivé"),
    ("admin.add_user", "Ajouter l'utilisateur"),
    ("admin.set_password", "Définir le mot de passe"),
    ("admin.tokens", "Jetons"),
    ("admin.products", "Produits"),
    ("admin.exposure", "Import de l'exposition (CSV)"),
    ("admin.upload", "Importer"),
    ("admin.playbook", "Playbook"),
    ("admin.validate", "Valider"),
    ("admin.reload", "Valider et appliquer"),
    ("admin.connectors", "Connecteurs"),
    ("admin.outbox", "File des webhooks et e-mails"),
    ("admin.dead", "Messages en échec"),
    ("admin.retry", "Réessayer"),
    ("admin.done", "Fait."),
    ("admin.yes", "oui"),
    ("admin.no", "non"),
    ("admin.version", "Version"),
    ("admin.cursor", "Curseur"),
    ("admin.errors", "Erreurs"),
    ("admin.api_tokens", "Jetons d'API"),
    ("admin.token_id", "Id"),
    ("admin.token_label", "Libellé"),
    ("admin.token_created_at", "Créé"),
    ("admin.token_revoked_at", "Révoqué"),
    ("admin.token_active", "actif"),
    ("admin.create_token", "Créer le jeton"),
    ("admin.revoke", "Révoquer"),
    (
        "admin.token_created",
        "Jeton créé. Copiez-le maintenant : il n'est affiché qu'une fois et seule son empreinte est conservée.",
    ),
    ("admin.token_for", "Nouveau jeton pour"),
    (
        "admin.token_label_invalid",
        "Un libellé a au plus 100 caractères, sans caractère de contrôle.",
    ),
    ("admin.no_tokens", "Aucun jeton."),
    ("status.new", "nouveau"),
    ("status.triaged", "trié"),
    ("status.in_progress", "en cours"),
    ("status.waiting_customer", "en attente du client"),
    ("status.resolved", "résolu"),
    ("status.closed", "clos"),
    ("status.reopened", "rouvert"),
    ("remedy_status.proposed", "proposée"),
    ("remedy_status.pending_approval", "en attente d'approbation"),
    ("remedy_status.approved", "approuvée"),
    ("remedy_status.refused", "refusée"),
    ("remedy_status.accepted", "acceptée"),
    ("remedy_status.fulfilled", "exécutée"),
    // Statements (issue 11): the case page's list and the statement page.
    ("statement.section", "Communications"),
    ("statement.title", "Communication"),
    ("statement.kind", "Type"),
    ("statement.language", "Langue"),
    ("statement.version", "Version"),
    ("statement.open", "Ouvrir"),
    ("statement.draft", "Rédiger une communication"),
    ("statement.drafted", "Communication rédigée."),
    ("statement.back", "Retour"),
    ("statement.refused", "Refusé"),
    ("statement.author", "Auteur"),
    ("statement.published_by", "Publiée par"),
    ("statement.body", "Texte"),
    (
        "statement.findings_hint",
        "Les constats du vérificateur sont surlignés dans le texte ; survolez pour voir la règle et le message.",
    ),
    ("statement.findings", "Constats du vérificateur"),
    ("statement.blocking", "bloquants :"),
    ("statement.approvals", "Décisions"),
    ("statement.decide", "Approuver, rejeter, publier"),
    (
        "statement.override",
        "Motif de dérogation (hq, constats bloquants seulement)",
    ),
    ("statement.publish", "Publier"),
    ("statement.published_ok", "Communication publiée."),
    ("statement_kind.customer_reply", "Réponse au client"),
    ("statement_kind.public_statement", "Déclaration publique"),
    ("statement_kind.recall_notice", "Avis de rappel"),
    ("statement_status.draft", "brouillon"),
    ("statement_status.rejected", "rejetée"),
    ("statement_status.published", "publiée"),
    ("finding_severity.error", "Erreur"),
    ("finding_severity.warning", "Avertissement"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn keys(cat: &[(&str, &str)]) -> BTreeSet<String> {
        cat.iter().map(|(k, _)| k.to_string()).collect()
    }

    #[test]
    fn every_key_exists_in_both_languages_once() {
        for cat in [EN, FR] {
            assert_eq!(keys(cat).len(), cat.len(), "a key is listed twice");
            assert!(cat.iter().all(|(_, v)| !v.trim().is_empty()));
        }
        let (en, fr) = (keys(EN), keys(FR));
        assert_eq!(
            en.difference(&fr).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "missing in French"
        );
        assert_eq!(
            fr.difference(&en).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "missing in English"
        );
    }

    #[test]
    fn every_key_a_template_or_handler_names_is_in_the_catalog() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let en = keys(EN);
        let mut named = 0;
        let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(root.join("templates"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.extend(
            std::fs::read_dir(root.join("src/ui"))
                .unwrap()
                .map(|e| e.unwrap().path()),
        );
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for (i, _) in text.match_indices("t(\"") {
                let rest = &text[i + 3..];
                let key = &rest[..rest.find('"').unwrap()];
                if key.contains('.') && !key.contains(' ') && key != "a.b" {
                    named += 1;
                    assert!(
                        en.contains(key),
                        "{} names unknown key {key}",
                        file.display()
                    );
                }
            }
        }
        assert!(named > 50, "only {named} keys found: is the scan broken?");
    }

    #[test]
    fn every_case_and_remedy_status_has_a_label() {
        for st in firewatch_domain::CaseStatus::ALL {
            for lang in Lang::ALL {
                assert!(
                    lookup(lang.catalog(), &format!("status.{}", st.as_str())).is_some(),
                    "{st:?}"
                );
            }
        }
        for st in firewatch_store::playbooks::RemedyStatus::ALL {
            for lang in Lang::ALL {
                assert!(
                    lookup(lang.catalog(), &format!("remedy_status.{}", st.as_str())).is_some(),
                    "{st:?}"
                );
            }
        }
        for k in super::super::case::REMEDY_KINDS {
            assert!(lookup(FR, &format!("remedy.{k}")).is_some());
        }
    }

    #[test]
    fn the_language_comes_from_accept_language_when_nothing_else_says() {
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::header::ACCEPT_LANGUAGE,
            "de-DE,fr-CA;q=0.8,en;q=0.5".parse().unwrap(),
        );
        assert_eq!(Lang::from_accept_language(&h), Some(Lang::Fr));
        assert_eq!(Lang::parse("EN-gb"), Some(Lang::En));
        assert_eq!(Lang::parse("x"), None);
        assert_eq!(Lang::Fr.t("nav.queue"), "File");
    }
}

//! The checker's word lists, per language. Patterns use the syntax of `fold.rs`: folded
//! accent- and case-insensitively, `{a,b}` alternatives, a trailing `*` for a word prefix.
//! README.md ("Recall-notice checker") lists them for reviewers; keep both in step.

use crate::Lang;
use crate::fold::PhraseSet;
use firewatch_domain::HazardCode;
use std::sync::OnceLock;

/// Word lists for one language.
pub struct LangRules {
    /// Accepted headings (the first non-blank line must contain one).
    pub headings: &'static [&'static str],
    /// Words that make the risk sound smaller (GPSR Art. 36(2)).
    pub minimising: &'static [&'static str],
    /// An invitation to stop using the product.
    pub stop_using: &'static [&'static str],
    /// A remedy: refund, replacement, repair.
    pub remedy: &'static [&'static str],
    /// Saying the remedy is free.
    pub free: &'static [&'static str],
    /// Wording that puts a cost on the consumer.
    pub cost: &'static [&'static str],
    /// A word right before a cost phrase that negates it ("no shipping fee", "sans frais").
    pub cost_negators: &'static [&'static str],
    /// Wording after a cost phrase (same sentence) that waives it ("frais de port offerts").
    pub cost_waivers: &'static [&'static str],
    /// Technical wording that hides the hazard.
    pub jargon: &'static [&'static str],
}

pub fn rules(lang: Lang) -> &'static LangRules {
    match lang {
        Lang::En => &EN,
        Lang::Fr => &FR,
        Lang::De => &DE,
        Lang::Es => &ES,
        Lang::It => &IT,
        Lang::Pt => &PT,
    }
}

/// The lists of one language compiled once (automata are built on first use).
pub struct Compiled {
    pub headings: PhraseSet,
    pub minimising: PhraseSet,
    pub stop_using: PhraseSet,
    pub remedy: PhraseSet,
    pub free: PhraseSet,
    pub cost: PhraseSet,
    pub cost_negators: PhraseSet,
    pub cost_waivers: PhraseSet,
    pub jargon: PhraseSet,
    /// Plain hazard words, in the order of `HazardCode::ALL`.
    pub hazards: Vec<PhraseSet>,
}

impl Compiled {
    pub fn hazard(&self, code: HazardCode) -> &PhraseSet {
        let i = HazardCode::ALL.iter().position(|c| *c == code).unwrap_or(0);
        &self.hazards[i]
    }
}

fn compile(lang: Lang) -> Compiled {
    let r = rules(lang);
    Compiled {
        headings: PhraseSet::new(r.headings),
        minimising: PhraseSet::new(r.minimising),
        stop_using: PhraseSet::new(r.stop_using),
        remedy: PhraseSet::new(r.remedy),
        free: PhraseSet::new(r.free),
        cost: PhraseSet::new(r.cost),
        cost_negators: PhraseSet::new(r.cost_negators),
        cost_waivers: PhraseSet::new(r.cost_waivers),
        jargon: PhraseSet::new(r.jargon),
        hazards: HazardCode::ALL
            .iter()
            .map(|c| PhraseSet::new(crate::vocab::hazard_words(*c, lang)))
            .collect(),
    }
}

/// The compiled lists of `lang`, built once per process.
pub fn compiled(lang: Lang) -> &'static Compiled {
    static CACHE: [OnceLock<Compiled>; 6] = [const { OnceLock::new() }; 6];
    let i = Lang::ALL.iter().position(|l| *l == lang).unwrap_or(0);
    CACHE[i].get_or_init(|| compile(lang))
}

static EN: LangRules = LangRules {
    headings: &["product safety recall"],
    minimising: &[
        "voluntar*",
        "precautionary*",
        "as a precaution",
        "out of an abundance of caution",
        "abundance of caution",
        "out of caution",
        "discretionary",
        "in {rare,very rare,extremely rare,specific,certain,isolated,limited,exceptional} {situations,cases,circumstances,instances,conditions}",
        "under {rare,specific,certain} {situations,circumstances,conditions}",
        "rare instances",
        "isolated incident*",
        "{highly,extremely,very} unlikely",
        "minimal risk",
        "low risk",
        "there {are,have been} no {reported,known} {injuries,incidents,accidents}",
        "no {reported,known} {injuries,incidents,accidents}",
        "no {injuries,incidents,accidents} {have been,were,has been} reported",
        "no {injuries,incidents,accidents} reported",
        "not aware of any {injuries,incidents,accidents}",
        "{there have been,there are,we have had} no reports of {injuries,injury,incidents,accidents}",
        "no reports of {injuries,injury,incidents,accidents}",
        "no one has been {hurt,injured}",
        "nobody has been {hurt,injured}",
    ],
    stop_using: &[
        "stop using*",
        "{do not,don't,never} use",
        "cease {using,use}",
        "no longer use",
        "discontinue use",
        "unplug*",
    ],
    remedy: &["refund*", "replace*", "repair*", "reimburs*", "money back"],
    free: &[
        "free",
        "free of charge",
        "at no cost*",
        "no charge",
        "do not pay anything",
        "don't pay anything",
        "nothing to pay",
        "pay nothing",
    ],
    cost: &[
        "at your {own expense,expense,own cost,cost}",
        "{shipping,postage,delivery,handling,return,restocking,processing,service,inspection} {fee,fees,cost,costs,charge,charges}",
        "postage",
        "you {will be,are} charged",
        "you {pay,must pay,will pay,have to pay}",
        "customer {pays,must pay}",
        "paid by the customer",
        "co-payment",
    ],
    cost_negators: &["no", "free", "without", "zero"],
    cost_waivers: &[
        "waived",
        "covered by us",
        "paid by us",
        "is on us",
        "are on us",
        "we pay",
        "we cover",
        "prepaid",
        "refunded",
        "reimbursed",
        "free",
        "nothing",
    ],
    jargon: &[
        "thermal {event,incident,runaway}",
        "non-conformit*",
        "non-complian*",
        "does not comply",
        "potential quality issue",
        "quality issue",
    ],
};

static FR: LangRules = LangRules {
    headings: &[
        "rappel de sécurité du produit",
        "rappel de sécurité de produit",
        "rappel de sécurité produit",
        "rappel produit",
        "rappel de produit",
    ],
    minimising: &[
        "volontaire*",
        "précautionnaire*",
        "par précaution",
        "par mesure de précaution",
        "mesure de précaution",
        "à titre {préventif,de précaution,préventive,conservatoire}",
        "{rappel,retrait,mesure} {préventif,préventive,de précaution}",
        "de {manière,façon} préventive",
        "principe de précaution",
        "discrétionnaire*",
        "dans de {rares,très rares} {cas,situations,circonstances}",
        "dans {certains,quelques} cas",
        "dans certaines {situations,circonstances,conditions}",
        "dans des {situations,circonstances,conditions} {spécifiques,particulières,exceptionnelles}",
        "dans des cas {isolés,exceptionnels,particuliers}",
        "cas isolé*",
        "rarissime*",
        "très peu probable",
        "risque {faible,minime}",
        "aucun {blessé,accident,incident} n'a été {signalé,déclaré,rapporté,constaté}",
        "aucune blessure n'a été {signalée,déclarée,rapportée,constatée}",
        "aucun {blessé,accident,incident} {signalé,déclaré,à déplorer}",
        "aucune blessure {signalée,déclarée,à déplorer}",
        "n'a fait aucun blessé",
        "sans faire de blessé*",
        "aucun blessé",
    ],
    stop_using: &[
        "{arrêtez,arrêter,cessez,cesser} {d'utiliser,de l'utiliser,de les utiliser,de consommer}",
        "cessez immédiatement d'utiliser",
        "cessez d'utiliser",
        "n'utilisez plus",
        "ne l'utilisez plus",
        "ne plus utiliser",
        "débranche*",
    ],
    remedy: &["rembours*", "remplac*", "répar*", "échange*"],
    free: &[
        "gratuit*",
        "sans frais",
        "rien à payer",
        "sans aucun frais",
        "sans coût",
    ],
    cost: &[
        "frais de port à votre charge",
        "à votre charge",
        "à vos frais",
        "à la charge du {client,consommateur}",
        "frais de {port,retour,envoi,livraison,traitement,dossier,gestion,expédition}",
        "participation {forfaitaire,financière,aux frais}",
        "vous sera facturé*",
        "{restent,reste} à votre charge",
    ],
    cost_negators: &["sans", "aucun", "aucuns", "pas de", "zéro", "aucune"],
    cost_waivers: &[
        "offert*",
        "pris en charge par {nous,nos soins,l'entreprise}",
        "à notre charge",
        "à nos frais",
        "gratuit*",
        "rembours*",
    ],
    jargon: &[
        "non conforme*",
        "non-conforme*",
        "non-conformité*",
        "non conformité*",
        "événement thermique",
        "incident thermique",
        "emballement thermique",
    ],
};

static DE: LangRules = LangRules {
    headings: &[
        "produktsicherheitsrückruf",
        "sicherheitsrückruf",
        "produktrückruf",
        "rückruf aus sicherheitsgründen",
    ],
    minimising: &[
        "freiwillig*",
        "vorsorglich*",
        "aus {vorsicht,vorsichtsgründen,gründen der vorsicht}",
        "{als,aus} vorsichtsmaßnahme",
        "vorsichtsmaßnahme*",
        "aus übergroßer vorsicht",
        "diskretionär*",
        "nach eigenem ermessen",
        "in {seltenen,sehr seltenen,äußerst seltenen,bestimmten,einzelnen,besonderen} {fällen,situationen,umständen}",
        "unter bestimmten {umständen,bedingungen}",
        "in einzelfällen",
        "einzelfall*",
        "{sehr,äußerst,höchst} unwahrscheinlich",
        "geringes risiko",
        "es {wurden,sind} {bisher,bislang} keine {verletzungen,unfälle,vorfälle} {gemeldet,bekannt}",
        "es {wurden,sind} keine {verletzungen,unfälle,vorfälle} {gemeldet,bekannt}",
        "{bisher,bislang} {sind,wurden} keine {verletzungen,unfälle,vorfälle} {gemeldet,bekannt}",
        "keine {verletzungen,unfälle,vorfälle,personenschäden} {gemeldet,bekannt}",
        "keine verletzten",
        "niemand wurde verletzt",
    ],
    stop_using: &[
        "nicht mehr {verwenden,benutzen,nutzen,verwendet,benutzt,genutzt}",
        "{verwenden,benutzen,nutzen} sie {das produkt,dieses produkt,es} {ab sofort,sofort} nicht mehr",
        "{verwenden,benutzen,nutzen} sie {das produkt,dieses produkt,es} nicht mehr",
        "{verwenden,benutzen,nutzen} sie {das produkt,dieses produkt,es} nicht",
        "nicht {verwenden,benutzen}",
        "stellen sie die {verwendung,nutzung,benutzung} ein",
        "vom stromnetz trennen",
    ],
    remedy: &[
        "erstatt*",
        "rückerstatt*",
        "ersatz*",
        "ersetz*",
        "austausch*",
        "tausch*",
        "reparatur*",
        "repari*",
        "umtausch*",
    ],
    free: &[
        "kostenlos*",
        "kostenfrei*",
        "gebührenfrei*",
        "unentgeltlich*",
        "zahlen nichts",
        "ohne kosten",
        "gratis",
    ],
    cost: &[
        "auf {ihre,eigene} kosten",
        "zu ihren lasten",
        "{versandkosten,portokosten,rücksendekosten,bearbeitungsgebühr*,servicegebühr*,versandgebühr*,porto}",
        "eigenanteil*",
        "selbstbeteiligung*",
        "kostenbeteiligung*",
        "wird ihnen in rechnung gestellt",
    ],
    cost_negators: &["ohne", "keine", "kein", "keinerlei", "null"],
    cost_waivers: &[
        "übernehmen wir",
        "von uns übernommen",
        "trägt {der hersteller,das unternehmen}",
        "tragen wir",
        "erstattet",
        "entfallen",
        "kostenlos*",
    ],
    jargon: &[
        "thermisches ereignis",
        "thermisches durchgehen",
        "nichtkonformität*",
        "entspricht nicht den anforderungen",
        "qualitätsproblem*",
    ],
};

static ES: LangRules = LangRules {
    headings: &[
        "retirada de producto por motivos de seguridad",
        "retirada de productos por motivos de seguridad",
        "recuperación de producto por motivos de seguridad",
        "retirada del producto por motivos de seguridad",
        "retirada de producto por seguridad",
    ],
    minimising: &[
        "voluntari*",
        "por precaución",
        "como {medida de precaución,precaución,medida preventiva}",
        "{de forma,de manera,a título,con carácter} preventiv*",
        "preventivamente",
        "por {prudencia,exceso de precaución}",
        "discrecional*",
        "en {raras,contadas} {ocasiones,situaciones}",
        "en {casos,situaciones,circunstancias} {raros,raras,excepcionales,aislados,aisladas,específicos,específicas,concretos,concretas,particulares}",
        "en {determinadas,ciertas} {situaciones,circunstancias,condiciones,ocasiones}",
        "en {determinados,ciertos} casos",
        "caso aislado",
        "{muy,altamente,sumamente} improbable",
        "riesgo {bajo,mínimo}",
        "no se {han,ha} {registrado,notificado,reportado,producido,comunicado,informado de} {lesiones,heridos,accidentes,incidentes,daños personales}",
        "no hay {heridos,lesionados} {registrados,notificados}",
        "{ningún herido,ninguna lesión,ningún accidente}",
        "sin {heridos,lesiones} {registrados,registradas,notificados,notificadas}",
    ],
    stop_using: &[
        "{deje,dejar,dejen} de {usar,utilizar,consumir}",
        "no {utilice,use,utilicen,usen,utilizar,usar}",
        "{suspenda,interrumpa} {el uso,su uso}",
        "desenchúfe*",
        "desconéct*",
    ],
    remedy: &[
        "reembols*",
        "sustitu*",
        "reemplaz*",
        "repar*",
        "cambio",
        "devolución del dinero",
    ],
    free: &[
        "gratuit*",
        "gratis",
        "sin coste*",
        "sin costo*",
        "sin cargo*",
        "no tendrá que pagar nada",
        "no pagan nada",
        "sin ningún coste",
    ],
    cost: &[
        "a su {cargo,costa}",
        "por su cuenta",
        "a cargo del {cliente,consumidor}",
        "{gastos,costes,costos} de {envío,devolución,transporte,gestión,tramitación}",
        "{tarifa,cargo} de {envío,gestión,servicio}",
        "se le cobrará*",
        "deberá pagar",
    ],
    cost_negators: &["sin", "ningún", "ninguno", "no hay", "cero"],
    cost_waivers: &[
        "a nuestro cargo",
        "{corre,corren} de nuestra cuenta",
        "{corre,corren} a cargo de",
        "los asumimos",
        "asumimos",
        "gratuit*",
        "reembols*",
    ],
    jargon: &[
        "evento térmico",
        "no conforme*",
        "no conformidad*",
        "incumple la normativa",
        "problema de calidad",
    ],
};

static IT: LangRules = LangRules {
    headings: &[
        "richiamo di sicurezza del prodotto",
        "richiamo di sicurezza di prodotto",
        "richiamo per motivi di sicurezza",
        "richiamo del prodotto",
        "richiamo prodotto",
    ],
    minimising: &[
        "volontari*",
        "{a titolo,in via,a scopo,per motivi} {precauzional*,cautelativ*,preventiv*}",
        "per {precauzione,prudenza}",
        "precauzional*",
        "cautelativ*",
        "discrezional*",
        "in {rari,rarissimi} casi",
        "in casi {rari,isolati,specifici,particolari,eccezionali}",
        "in {rare,determinate,certe,specifiche,particolari} {situazioni,circostanze,condizioni}",
        "in situazioni {rare,specifiche,particolari,eccezionali}",
        "in alcuni casi",
        "caso isolato",
        "{molto,altamente,estremamente} improbabile",
        "rischio {basso,minimo}",
        "non sono stati {segnalati,registrati,riportati,rilevati} {feriti,infortuni,incidenti,danni alle persone}",
        "non sono state {segnalate,registrate,riportate} lesioni",
        "nessun {ferito,infortunio,incidente} {segnalato,registrato}",
        "nessuna lesione {segnalata,registrata}",
        "{nessun ferito,nessun infortunio,nessuna lesione}",
    ],
    stop_using: &[
        "{smettere,smettete,smetta,interrompere,interrompete,interrompa,cessare,cessate} di {usare,utilizzare,consumare}",
        "non {usare,utilizzare,usate,utilizzate,usi,utilizzi}",
        "non più {usare,utilizzare}",
        "scollega*",
    ],
    remedy: &["rimbors*", "sostitu*", "ripar*", "cambio"],
    free: &[
        "gratuit*",
        "gratis",
        "senza {costi,spese,oneri}",
        "non dovrete pagare nulla",
        "nessun costo",
    ],
    cost: &[
        "a {vostro,suo,tuo,proprio} carico",
        "a carico del {cliente,consumatore}",
        "a {proprie,vostre,sue} spese",
        "spese di {spedizione,restituzione,gestione,trasporto}",
        "costi di {spedizione,restituzione,gestione,trasporto}",
        "vi sarà addebitat*",
    ],
    cost_negators: &["senza", "nessun", "nessuna", "zero"],
    cost_waivers: &[
        "a {nostro,nostre} {carico,spese}",
        "a carico nostro",
        "sostenute da noi",
        "gratuit*",
        "rimbors*",
    ],
    jargon: &[
        "evento termico",
        "non conform*",
        "non conformità",
        "problema di qualità",
    ],
};

static PT: LangRules = LangRules {
    headings: &[
        "recolha de produto por motivos de segurança",
        "recolha de segurança do produto",
        "recolha do produto por motivos de segurança",
        "recall de segurança do produto",
        "recall de produto",
        "chamamento de segurança",
    ],
    minimising: &[
        "voluntári*",
        "voluntariamente",
        "por {precaução,prudência}",
        "como {medida de precaução,precaução,medida preventiva}",
        "{de forma,a título,de modo,em caráter,em carácter} preventiv*",
        "preventivamente",
        "cautelar*",
        "discricionári*",
        "em {raras,poucas} {situações,ocasiões,circunstâncias}",
        "em {casos,situações,circunstâncias} {raros,raras,isolados,isoladas,específicos,específicas,excecionais,excepcionais,particulares}",
        "em {determinadas,certas} {situações,circunstâncias,condições}",
        "em {determinados,certos,alguns} casos",
        "caso isolado",
        "{muito,altamente,extremamente} improvável",
        "risco {baixo,mínimo,reduzido}",
        "não {foram,houve} {registados,registrados,reportados,comunicados,notificados,relatados} {ferimentos,feridos,acidentes,incidentes,lesões}",
        "não há {registo,registro,relatos} de {ferimentos,feridos,acidentes,lesões}",
        "sem {registo,registro} de {ferimentos,feridos,acidentes,lesões}",
        "{nenhum ferido,nenhuma lesão,nenhum acidente,nenhum ferimento}",
    ],
    stop_using: &[
        "{deixe,deixar,deixem,pare,parar,parem} de {usar,utilizar,consumir}",
        "não {utilize,use,utilizar,usar,utilizem,usem}",
        "{suspenda,interrompa} {o uso,a utilização}",
        "deslig*",
    ],
    remedy: &[
        "reembols*",
        "substitu*",
        "repar*",
        "troca",
        "devolução do dinheiro",
    ],
    free: &[
        "gratuit*",
        "grátis",
        "sem {custos,custo,encargos,qualquer custo}",
        "não paga nada",
        "não pagam nada",
        "nada a pagar",
    ],
    cost: &[
        "a seu cargo",
        "por sua conta",
        "a cargo do {cliente,consumidor}",
        "{portes,custos,despesas} de {envio,devolução,transporte,expedição}",
        "taxa de {envio,serviço,processamento}",
        "será cobrad*",
    ],
    cost_negators: &[
        "sem",
        "nenhum",
        "nenhuma",
        "zero",
        "isento de",
        "isentos de",
    ],
    cost_waivers: &[
        "a nosso cargo",
        "por nossa conta",
        "suportados por nós",
        "gratuit*",
        "reembols*",
    ],
    jargon: &[
        "evento térmico",
        "não conform*",
        "não conformidade",
        "problema de qualidade",
    ],
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fold::expand;

    fn all_lists(r: &LangRules) -> [&'static [&'static str]; 9] {
        [
            r.headings,
            r.minimising,
            r.stop_using,
            r.remedy,
            r.free,
            r.cost,
            r.cost_negators,
            r.cost_waivers,
            r.jargon,
        ]
    }

    #[test]
    fn a_star_only_ever_ends_a_pattern() {
        let mut patterns: Vec<&str> = Lang::ALL
            .into_iter()
            .flat_map(|l| all_lists(rules(l)))
            .flatten()
            .copied()
            .collect();
        for lang in Lang::ALL {
            for code in firewatch_domain::HazardCode::ALL {
                patterns.extend(crate::vocab::hazard_words(code, lang));
            }
        }
        for p in patterns {
            for alt in expand(p) {
                assert!(
                    !alt.trim_end_matches('*').contains(['*', '{', '}']),
                    "`{p}` expands to `{alt}`, which the matcher would take literally"
                );
            }
        }
    }

    #[test]
    fn every_language_has_headings_and_minimising_words() {
        for lang in Lang::ALL {
            let r = rules(lang);
            assert!(!r.headings.is_empty() && !r.minimising.is_empty(), "{lang}");
        }
    }
}

//! Name pools, one per naming culture, so that a patient's name fits their recorded ethnicity and
//! preferred language (a Vietnamese speaker is not called "Smith"). Given names in the general
//! American pool depend on the decade of birth.

use rand::Rng;

use crate::random::{chance, pick};

/// The naming tradition a person's name is drawn from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Culture {
    General,
    AfricanAmerican,
    Hispanic,
    Chinese,
    Vietnamese,
    Korean,
    Filipino,
    Japanese,
    SouthAsian,
    Arab,
    Russian,
    Polish,
    Portuguese,
    FrenchCanadian,
    Haitian,
    WestAfrican,
    Somali,
    NativeAmerican,
    PacificIslander,
}

pub(crate) struct PersonName {
    pub(crate) given: Vec<String>,
    pub(crate) family: String,
}

impl PersonName {
    pub(crate) fn text(&self) -> String {
        format!("{} {}", self.given.join(" "), self.family)
    }
}

const GENERAL_FAMILY: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Miller",
    "Davis",
    "Wilson",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Martin",
    "Jackson",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Hill",
    "Green",
    "Adams",
    "Baker",
    "Nelson",
    "Carter",
    "Mitchell",
    "Roberts",
    "Turner",
    "Phillips",
    "Campbell",
    "Parker",
    "Evans",
    "Edwards",
    "Collins",
    "Stewart",
    "Morris",
    "Murphy",
    "Cook",
    "Rogers",
    "Morgan",
    "Cooper",
    "Peterson",
    "Bailey",
    "Reed",
    "Kelly",
    "Howard",
    "Cox",
    "Ward",
    "Richardson",
    "Wood",
    "Watson",
    "Brooks",
    "Bennett",
    "Gray",
    "Hughes",
    "Price",
    "Sanders",
    "Myers",
    "Long",
    "Ross",
    "Foster",
    "Sullivan",
    "O'Brien",
    "McCarthy",
    "Fitzgerald",
    "Brennan",
    "Doyle",
    "Gallagher",
    "Walsh",
    "Byrne",
    "Schmidt",
    "Schneider",
    "Weber",
    "Meyer",
    "Becker",
    "Keller",
    "Russo",
    "Romano",
    "Marino",
    "Greco",
    "Olsen",
    "Larson",
    "Hansen",
    "Lindqvist",
    "Novak",
    "Shapiro",
    "Goldberg",
    "Katz",
    "Friedman",
    "Bishop",
    "Porter",
    "Hayes",
    "Dunn",
];
const GENERAL_FEMALE_OLDER: &[&str] = &[
    "Mary",
    "Patricia",
    "Linda",
    "Barbara",
    "Elizabeth",
    "Margaret",
    "Dorothy",
    "Betty",
    "Joan",
    "Shirley",
    "Judith",
    "Carol",
    "Sandra",
    "Donna",
    "Nancy",
    "Helen",
    "Ruth",
    "Frances",
    "Janet",
    "Joyce",
    "Marilyn",
    "Kathleen",
    "Diane",
    "Evelyn",
    "Jean",
    "Gloria",
    "Virginia",
    "Eleanor",
    "Doris",
    "Phyllis",
    "Lois",
    "Beverly",
    "Marjorie",
    "Rita",
    "Irene",
    "Connie",
    "Peggy",
];
const GENERAL_FEMALE_YOUNGER: &[&str] = &[
    "Jennifer",
    "Jessica",
    "Ashley",
    "Sarah",
    "Emily",
    "Amanda",
    "Megan",
    "Lauren",
    "Rachel",
    "Nicole",
    "Stephanie",
    "Heather",
    "Michelle",
    "Kimberly",
    "Amy",
    "Melissa",
    "Brittany",
    "Samantha",
    "Hannah",
    "Olivia",
    "Emma",
    "Madison",
    "Rebecca",
    "Katherine",
    "Laura",
    "Erin",
    "Lisa",
    "Karen",
    "Susan",
    "Christine",
    "Julie",
    "Angela",
    "Kelly",
    "Tracy",
    "Dawn",
    "Abigail",
];
const GENERAL_MALE_OLDER: &[&str] = &[
    "James", "Robert", "John", "William", "Richard", "Charles", "Donald", "George", "Thomas",
    "Joseph", "Edward", "Kenneth", "Ronald", "Paul", "Raymond", "Harold", "Walter", "Frank",
    "Gerald", "Eugene", "Larry", "Carl", "Roger", "Dennis", "Gary", "Arthur", "Howard", "Ralph",
    "Albert", "Henry", "Norman", "Stanley", "Leonard", "Francis", "Earl", "Wayne",
];
const GENERAL_MALE_YOUNGER: &[&str] = &[
    "Michael",
    "Christopher",
    "Matthew",
    "Joshua",
    "Daniel",
    "David",
    "Andrew",
    "Ryan",
    "Brandon",
    "Justin",
    "Tyler",
    "Kevin",
    "Jason",
    "Brian",
    "Eric",
    "Kyle",
    "Nathan",
    "Jacob",
    "Ethan",
    "Zachary",
    "Adam",
    "Sean",
    "Jonathan",
    "Aaron",
    "Steven",
    "Mark",
    "Scott",
    "Timothy",
    "Jeffrey",
    "Patrick",
    "Benjamin",
    "Samuel",
    "Dylan",
    "Logan",
    "Noah",
    "Austin",
];
const GENERAL_MIDDLE_FEMALE: &[&str] = &[
    "Ann",
    "Marie",
    "Lynn",
    "Louise",
    "Jane",
    "Elizabeth",
    "Rose",
    "Grace",
    "Kay",
    "Jo",
];
const GENERAL_MIDDLE_MALE: &[&str] = &[
    "James", "Lee", "Allen", "Michael", "Edward", "Wayne", "Joseph", "Ray", "Dean", "Scott",
];

const AA_FAMILY: &[&str] = &[
    "Washington",
    "Jefferson",
    "Banks",
    "Jenkins",
    "Coleman",
    "Freeman",
    "Hayes",
    "Bryant",
    "Gaines",
    "Mack",
    "Dorsey",
    "Battle",
    "Whitaker",
    "Booker",
    "Simmons",
    "Holloway",
    "Mosley",
    "Williams",
    "Johnson",
    "Jackson",
    "Brown",
    "Davis",
    "Harris",
    "Robinson",
    "Thomas",
    "Moore",
    "Taylor",
    "Lewis",
    "Walker",
    "Green",
    "Wright",
    "Greene",
    "Brooks",
    "Owens",
    "Tucker",
];
const AA_FEMALE: &[&str] = &[
    "Keisha",
    "Tamika",
    "LaToya",
    "Ebony",
    "Aaliyah",
    "Imani",
    "Jasmine",
    "Monique",
    "Denise",
    "Yolanda",
    "Gwendolyn",
    "Bernice",
    "Loretta",
    "Alfreda",
    "Tanisha",
    "Shanice",
    "Kiara",
    "Latasha",
    "Octavia",
    "Maxine",
];
const AA_MALE: &[&str] = &[
    "DeShawn", "Jamal", "Darnell", "Terrence", "Marcus", "Andre", "Tyrone", "Reginald", "Cedric",
    "Willie", "Otis", "Clarence", "Jerome", "Malik", "Darius", "Lamar", "Rashad", "Curtis",
    "Leroy", "Marvin",
];

const HISPANIC_FAMILY: &[&str] = &[
    "Garcia",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Perez",
    "Sanchez",
    "Ramirez",
    "Torres",
    "Flores",
    "Rivera",
    "Gomez",
    "Diaz",
    "Morales",
    "Reyes",
    "Cruz",
    "Ortiz",
    "Gutierrez",
    "Chavez",
    "Ramos",
    "Ruiz",
    "Alvarez",
    "Mendoza",
    "Castillo",
    "Jimenez",
    "Vasquez",
    "Romero",
    "Herrera",
    "Medina",
    "Aguilar",
    "Vargas",
    "Castro",
    "Guzman",
    "Soto",
    "Delgado",
    "Rios",
    "Contreras",
    "Salazar",
    "Figueroa",
    "Colon",
    "Santiago",
    "Nunez",
    "Acosta",
    "Pena",
];
const HISPANIC_FEMALE: &[&str] = &[
    "María",
    "Guadalupe",
    "Carmen",
    "Rosa",
    "Ana",
    "Juana",
    "Lucía",
    "Isabel",
    "Gloria",
    "Teresa",
    "Sofía",
    "Valeria",
    "Daniela",
    "Gabriela",
    "Alejandra",
    "Verónica",
    "Yesenia",
    "Marisol",
    "Elena",
    "Adriana",
    "Leticia",
    "Beatriz",
    "Claudia",
    "Esperanza",
    "Maribel",
    "Ximena",
];
const HISPANIC_MALE: &[&str] = &[
    "José",
    "Juan",
    "Luis",
    "Carlos",
    "Jesús",
    "Miguel",
    "Antonio",
    "Francisco",
    "Jorge",
    "Pedro",
    "Manuel",
    "Alejandro",
    "Ricardo",
    "Rafael",
    "Roberto",
    "Fernando",
    "Javier",
    "Sergio",
    "Eduardo",
    "Mario",
    "Raúl",
    "Héctor",
    "Diego",
    "Andrés",
    "Santiago",
    "Mateo",
    "Ernesto",
];

const CHINESE_FAMILY: &[&str] = &[
    "Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu", "Sun", "Ma",
    "Zhu", "Hu", "Guo", "Lin", "He", "Gao", "Luo", "Zheng", "Liang", "Xie", "Tang", "Wong", "Chan",
    "Lee", "Leung", "Cheung", "Lam", "Ho", "Yip",
];
const CHINESE_FEMALE: &[&str] = &[
    "Mei", "Li Na", "Xiuying", "Hui", "Ying", "Jing", "Yan", "Xiaoling", "Lan", "Fang", "Min",
    "Qing", "Wen", "Yu", "Shu Fen", "Lihua", "Yun",
];
const CHINESE_MALE: &[&str] = &[
    "Wei",
    "Jun",
    "Ming",
    "Jian",
    "Hao",
    "Lei",
    "Tao",
    "Qiang",
    "Yong",
    "Jie",
    "Bo",
    "Hong",
    "Gang",
    "Zhiwei",
    "Xiaoming",
    "Kwok Wai",
    "Chi Keung",
];

const VIETNAMESE_FAMILY: &[&str] = &[
    "Nguyen", "Nguyen", "Nguyen", "Tran", "Tran", "Le", "Pham", "Hoang", "Huynh", "Phan", "Vu",
    "Vo", "Dang", "Bui", "Do", "Ho", "Ngo", "Duong", "Ly",
];
const VIETNAMESE_FEMALE: &[&str] = &[
    "Lan", "Hoa", "Mai", "Linh", "Thao", "Huong", "Ngoc", "Thu", "Trang", "Phuong", "Anh", "Hanh",
    "Tuyet", "Kim",
];
const VIETNAMESE_MALE: &[&str] = &[
    "Minh", "Tuan", "Hung", "Dung", "Thanh", "Long", "Hai", "Quang", "Duc", "Nam", "Khanh", "Binh",
    "Son", "Vinh",
];

const KOREAN_FAMILY: &[&str] = &[
    "Kim", "Kim", "Lee", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon", "Jang", "Lim",
    "Han", "Shin", "Seo", "Kwon", "Hwang", "Song",
];
const KOREAN_FEMALE: &[&str] = &[
    "Ji-hye",
    "Min-ji",
    "Soo-jin",
    "Eun-young",
    "Hye-jin",
    "Young-hee",
    "Mi-kyung",
    "Seo-yeon",
    "Jin-ah",
    "Sun-hee",
    "Kyung-ja",
];
const KOREAN_MALE: &[&str] = &[
    "Min-jun",
    "Ji-hoon",
    "Sung-ho",
    "Dong-hyun",
    "Jae-won",
    "Young-soo",
    "Hyun-woo",
    "Sang-min",
    "Joon-ho",
    "Kwang-su",
    "Chul-soo",
];

const FILIPINO_FAMILY: &[&str] = &[
    "Santos",
    "Reyes",
    "Cruz",
    "Bautista",
    "Ocampo",
    "Garcia",
    "Mendoza",
    "Torres",
    "Tomas",
    "Andrada",
    "Castillo",
    "Flores",
    "Villanueva",
    "Ramos",
    "Dela Cruz",
    "Aquino",
    "Navarro",
    "Mercado",
    "Pascual",
    "Manalo",
    "Soriano",
];
const FILIPINO_FEMALE: &[&str] = &[
    "Maria", "Rosario", "Jocelyn", "Marites", "Lorna", "Imelda", "Cristina", "Analyn", "Rowena",
    "Marilou", "Teresita", "Corazon",
];
const FILIPINO_MALE: &[&str] = &[
    "Jose",
    "Rolando",
    "Ramon",
    "Eduardo",
    "Romeo",
    "Rodrigo",
    "Arnel",
    "Joel",
    "Ferdinand",
    "Ernesto",
    "Danilo",
    "Reynaldo",
];

const JAPANESE_FAMILY: &[&str] = &[
    "Tanaka",
    "Suzuki",
    "Sato",
    "Nakamura",
    "Yamamoto",
    "Kobayashi",
    "Watanabe",
    "Ito",
    "Takahashi",
    "Yamada",
    "Matsumoto",
    "Inoue",
    "Kimura",
    "Hayashi",
];
const JAPANESE_FEMALE: &[&str] = &[
    "Yuki", "Akiko", "Emiko", "Keiko", "Naomi", "Haruka", "Yoko", "Michiko", "Sachiko",
];
const JAPANESE_MALE: &[&str] = &[
    "Kenji", "Hiroshi", "Takeshi", "Satoshi", "Kazuo", "Akira", "Daisuke", "Makoto", "Hideo",
];

const SOUTH_ASIAN_FAMILY: &[&str] = &[
    "Patel",
    "Patel",
    "Shah",
    "Singh",
    "Kumar",
    "Sharma",
    "Gupta",
    "Desai",
    "Mehta",
    "Reddy",
    "Rao",
    "Iyer",
    "Khan",
    "Chowdhury",
    "Joshi",
    "Malhotra",
    "Agarwal",
    "Nair",
    "Bhatt",
    "Das",
];
const SOUTH_ASIAN_FEMALE: &[&str] = &[
    "Priya", "Anjali", "Sunita", "Pooja", "Neha", "Kavita", "Lakshmi", "Meena", "Deepa", "Asha",
    "Geeta", "Rekha", "Harpreet", "Nasreen",
];
const SOUTH_ASIAN_MALE: &[&str] = &[
    "Raj", "Amit", "Sanjay", "Vijay", "Rahul", "Arjun", "Anil", "Suresh", "Ravi", "Ramesh",
    "Deepak", "Manoj", "Gurpreet", "Imran",
];

const ARAB_FAMILY: &[&str] = &[
    "Haddad", "Khoury", "Said", "Hassan", "Ali", "Ahmed", "Ibrahim", "Mansour", "Nasser", "Saleh",
    "Youssef", "Khalil", "Aziz", "Farah", "Hamdan", "Abdullah", "Othman", "Darwish", "Sabbagh",
];
const ARAB_FEMALE: &[&str] = &[
    "Fatima", "Aisha", "Mariam", "Layla", "Nour", "Rania", "Huda", "Samira", "Yasmin", "Zainab",
    "Amal", "Salma", "Hanan",
];
const ARAB_MALE: &[&str] = &[
    "Mohamed", "Ahmed", "Ali", "Omar", "Youssef", "Khalid", "Hassan", "Ibrahim", "Mahmoud",
    "Karim", "Tariq", "Samir", "Walid", "Bassam",
];

/// Russian surnames in their masculine form; the feminine adds "a".
const RUSSIAN_FAMILY: &[&str] = &[
    "Ivanov",
    "Smirnov",
    "Kuznetsov",
    "Popov",
    "Volkov",
    "Sokolov",
    "Lebedev",
    "Kozlov",
    "Novikov",
    "Morozov",
    "Petrov",
    "Pavlov",
    "Orlov",
    "Fedorov",
    "Belov",
    "Zaitsev",
    "Vinogradov",
];
const RUSSIAN_FEMALE: &[&str] = &[
    "Olga",
    "Tatiana",
    "Natalia",
    "Elena",
    "Irina",
    "Svetlana",
    "Lyudmila",
    "Galina",
    "Anna",
    "Marina",
    "Valentina",
    "Yulia",
    "Nina",
];
const RUSSIAN_MALE: &[&str] = &[
    "Sergei",
    "Alexander",
    "Dmitri",
    "Andrei",
    "Vladimir",
    "Alexei",
    "Mikhail",
    "Igor",
    "Nikolai",
    "Yuri",
    "Boris",
    "Viktor",
    "Oleg",
];

/// Polish surnames in their masculine form; "-ski"/"-cki" become "-ska"/"-cka" for women.
const POLISH_FAMILY: &[&str] = &[
    "Nowak",
    "Kowalski",
    "Wisniewski",
    "Wojcik",
    "Kaminski",
    "Lewandowski",
    "Zielinski",
    "Szymanski",
    "Wozniak",
    "Dabrowski",
    "Kozlowski",
    "Jankowski",
    "Mazur",
    "Krawczyk",
    "Nowicki",
];
const POLISH_FEMALE: &[&str] = &[
    "Anna",
    "Katarzyna",
    "Małgorzata",
    "Agnieszka",
    "Barbara",
    "Ewa",
    "Krystyna",
    "Elżbieta",
    "Zofia",
    "Danuta",
    "Jadwiga",
];
const POLISH_MALE: &[&str] = &[
    "Piotr",
    "Krzysztof",
    "Andrzej",
    "Tomasz",
    "Paweł",
    "Jan",
    "Stanisław",
    "Marek",
    "Jerzy",
    "Tadeusz",
    "Zbigniew",
];

const PORTUGUESE_FAMILY: &[&str] = &[
    "Silva",
    "Santos",
    "Oliveira",
    "Souza",
    "Costa",
    "Pereira",
    "Ferreira",
    "Rodrigues",
    "Almeida",
    "Carvalho",
    "Gomes",
    "Ribeiro",
    "Martins",
    "Araujo",
    "Barbosa",
    "Pinto",
    "Medeiros",
    "Furtado",
    "Cabral",
    "Teixeira",
];
const PORTUGUESE_FEMALE: &[&str] = &[
    "Ana",
    "Maria",
    "Fernanda",
    "Juliana",
    "Luciana",
    "Patrícia",
    "Beatriz",
    "Conceição",
    "Fátima",
    "Rita",
    "Helena",
    "Graça",
];
const PORTUGUESE_MALE: &[&str] = &[
    "João", "José", "António", "Paulo", "Carlos", "Manuel", "Pedro", "Luís", "Ricardo", "Rui",
    "Marcelo", "Fernando",
];

const FRENCH_CANADIAN_FAMILY: &[&str] = &[
    "Tremblay",
    "Gagnon",
    "Roy",
    "Côté",
    "Bouchard",
    "Gauthier",
    "Morin",
    "Lavoie",
    "Fortin",
    "Gagné",
    "Ouellet",
    "Pelletier",
    "Bélanger",
    "Lévesque",
    "Thibodeau",
    "Boucher",
];
const FRENCH_CANADIAN_FEMALE: &[&str] = &[
    "Marie",
    "Sylvie",
    "Josée",
    "Nathalie",
    "Chantal",
    "Isabelle",
    "Geneviève",
    "Monique",
    "Lise",
    "Céline",
    "Diane",
];
const FRENCH_CANADIAN_MALE: &[&str] = &[
    "Jean",
    "Pierre",
    "Luc",
    "Michel",
    "François",
    "André",
    "Sylvain",
    "Yves",
    "Gilles",
    "Réjean",
    "Normand",
];

const HAITIAN_FAMILY: &[&str] = &[
    "Jean-Baptiste",
    "Pierre",
    "Joseph",
    "Louis",
    "Charles",
    "Jean",
    "Desir",
    "Etienne",
    "Celestin",
    "Dorvil",
    "Toussaint",
    "François",
    "Augustin",
    "Baptiste",
    "Lafortune",
    "Michel",
    "Noel",
    "Alexis",
    "Dorsainvil",
    "Fleurant",
];
const HAITIAN_FEMALE: &[&str] = &[
    "Marie",
    "Nadège",
    "Widline",
    "Roseline",
    "Guerline",
    "Magalie",
    "Fabiola",
    "Mirlande",
    "Chantal",
    "Jocelyne",
    "Esther",
    "Marie-Carmel",
];
const HAITIAN_MALE: &[&str] = &[
    "Jean",
    "Pierre",
    "Jacques",
    "Wilner",
    "Frantz",
    "Wesner",
    "Ronald",
    "Jean-Claude",
    "Fritz",
    "Reginald",
    "Emmanuel",
    "Jean-Robert",
];

const WEST_AFRICAN_FAMILY: &[&str] = &[
    "Diallo",
    "Traoré",
    "Koné",
    "Camara",
    "Ndiaye",
    "Sow",
    "Touré",
    "Kouassi",
    "Mukendi",
    "Coulibaly",
    "Bamba",
    "Cissé",
    "Diop",
    "Konaté",
    "Ouédraogo",
];
const WEST_AFRICAN_FEMALE: &[&str] = &[
    "Aminata",
    "Fatoumata",
    "Mariama",
    "Awa",
    "Aïssatou",
    "Clarisse",
    "Joséphine",
    "Adjoa",
    "Mariam",
    "Nafissatou",
];
const WEST_AFRICAN_MALE: &[&str] = &[
    "Mamadou",
    "Ibrahima",
    "Moussa",
    "Amadou",
    "Ousmane",
    "Jean-Pierre",
    "Serge",
    "Cheikh",
    "Seydou",
    "Boubacar",
];

const SOMALI_FAMILY: &[&str] = &[
    "Mohamed", "Ali", "Hassan", "Abdi", "Farah", "Warsame", "Hussein", "Omar", "Jama", "Ahmed",
    "Osman", "Yusuf", "Aden", "Nur", "Egal", "Dahir",
];
const SOMALI_FEMALE: &[&str] = &[
    "Hodan", "Fadumo", "Ayan", "Sahra", "Hawa", "Asha", "Ifrah", "Nasra", "Ubah", "Khadra",
    "Halima",
];
const SOMALI_MALE: &[&str] = &[
    "Abdirahman",
    "Abdullahi",
    "Mohamed",
    "Ahmed",
    "Hassan",
    "Ali",
    "Omar",
    "Abdi",
    "Yusuf",
    "Liban",
    "Farhan",
];

const NATIVE_AMERICAN_FAMILY: &[&str] = &[
    "Begay",
    "Yazzie",
    "Benally",
    "Tsosie",
    "Nez",
    "Chee",
    "Harjo",
    "Littlejohn",
    "Cornsilk",
    "Etsitty",
    "Deschenie",
    "Tallbear",
    "Whitehorse",
    "Lente",
];

const PACIFIC_FAMILY: &[&str] = &[
    "Kealoha",
    "Kahananui",
    "Akana",
    "Fonoti",
    "Tupou",
    "Leota",
    "Faleolo",
    "Mahoe",
    "Kamakea",
    "Taufa",
    "Aumua",
    "Palakiko",
];
const PACIFIC_FEMALE: &[&str] = &[
    "Leilani", "Malia", "Kalani", "Noelani", "Sina", "Mele", "Lupe", "Kaimana",
];
const PACIFIC_MALE: &[&str] = &[
    "Keoni", "Kaleo", "Sione", "Tavita", "Ioane", "Kamaka", "Manu", "Pita",
];

/// A name for someone of `culture`, sex and year of birth. `english_given` draws the given name
/// from the general American pool (common among second-generation Americans).
pub(crate) fn person_name(
    r: &mut impl Rng,
    culture: Culture,
    female: bool,
    birth_year: i32,
    english_given: bool,
) -> PersonName {
    use Culture::*;
    let own = |female_pool: &'static [&'static str], male_pool: &'static [&'static str]| {
        if female {
            female_pool
        } else {
            male_pool
        }
    };
    let (family_pool, given_pool): (&[&str], Option<&[&str]>) = match culture {
        General => (GENERAL_FAMILY, None),
        AfricanAmerican => (AA_FAMILY, Some(own(AA_FEMALE, AA_MALE))),
        Hispanic => (HISPANIC_FAMILY, Some(own(HISPANIC_FEMALE, HISPANIC_MALE))),
        Chinese => (CHINESE_FAMILY, Some(own(CHINESE_FEMALE, CHINESE_MALE))),
        Vietnamese => (
            VIETNAMESE_FAMILY,
            Some(own(VIETNAMESE_FEMALE, VIETNAMESE_MALE)),
        ),
        Korean => (KOREAN_FAMILY, Some(own(KOREAN_FEMALE, KOREAN_MALE))),
        Filipino => (FILIPINO_FAMILY, Some(own(FILIPINO_FEMALE, FILIPINO_MALE))),
        Japanese => (JAPANESE_FAMILY, Some(own(JAPANESE_FEMALE, JAPANESE_MALE))),
        SouthAsian => (
            SOUTH_ASIAN_FAMILY,
            Some(own(SOUTH_ASIAN_FEMALE, SOUTH_ASIAN_MALE)),
        ),
        Arab => (ARAB_FAMILY, Some(own(ARAB_FEMALE, ARAB_MALE))),
        Russian => (RUSSIAN_FAMILY, Some(own(RUSSIAN_FEMALE, RUSSIAN_MALE))),
        Polish => (POLISH_FAMILY, Some(own(POLISH_FEMALE, POLISH_MALE))),
        Portuguese => (
            PORTUGUESE_FAMILY,
            Some(own(PORTUGUESE_FEMALE, PORTUGUESE_MALE)),
        ),
        FrenchCanadian => (
            FRENCH_CANADIAN_FAMILY,
            Some(own(FRENCH_CANADIAN_FEMALE, FRENCH_CANADIAN_MALE)),
        ),
        Haitian => (HAITIAN_FAMILY, Some(own(HAITIAN_FEMALE, HAITIAN_MALE))),
        WestAfrican => (
            WEST_AFRICAN_FAMILY,
            Some(own(WEST_AFRICAN_FEMALE, WEST_AFRICAN_MALE)),
        ),
        Somali => (SOMALI_FAMILY, Some(own(SOMALI_FEMALE, SOMALI_MALE))),
        NativeAmerican => (NATIVE_AMERICAN_FAMILY, None),
        PacificIslander => (PACIFIC_FAMILY, Some(own(PACIFIC_FEMALE, PACIFIC_MALE))),
    };
    // African American families mostly share the general American surname pool too.
    let family_pool = if culture == AfricanAmerican && chance(r, 0.5) {
        GENERAL_FAMILY
    } else {
        family_pool
    };
    let mut family = (*pick(r, family_pool)).to_string();
    if female {
        if culture == Russian {
            family.push('a');
        } else if culture == Polish {
            if let Some(stem) = family.strip_suffix("ki") {
                family = format!("{stem}ka");
            }
        }
    }
    let first = match given_pool {
        Some(pool) if !english_given => (*pick(r, pool)).to_string(),
        Some(pool) if culture == AfricanAmerican && chance(r, 0.4) => (*pick(r, pool)).to_string(),
        _ => general_given(r, female, birth_year),
    };
    let mut given = vec![first];
    match culture {
        Vietnamese if !english_given => {
            given.push(if female { "Thi" } else { "Van" }.to_string());
        }
        Hispanic | Filipino if !english_given && chance(r, 0.25) => {
            if let Some(pool) = given_pool {
                let second = pick(r, pool);
                if *second != given[0] {
                    given.push((*second).to_string());
                }
            }
        }
        General | AfricanAmerican | NativeAmerican if chance(r, 0.35) => {
            let pool = if female {
                GENERAL_MIDDLE_FEMALE
            } else {
                GENERAL_MIDDLE_MALE
            };
            let second = pick(r, pool);
            if *second != given[0] {
                given.push((*second).to_string());
            }
        }
        _ => {}
    }
    PersonName { given, family }
}

fn general_given(r: &mut impl Rng, female: bool, birth_year: i32) -> String {
    // Born before 1960: older names; after 1975: younger; in between, either.
    let older = match birth_year {
        ..1960 => true,
        1960..1975 => chance(r, 0.5),
        _ => false,
    };
    let pool = match (female, older) {
        (true, true) => GENERAL_FEMALE_OLDER,
        (true, false) => GENERAL_FEMALE_YOUNGER,
        (false, true) => GENERAL_MALE_OLDER,
        (false, false) => GENERAL_MALE_YOUNGER,
    };
    (*pick(r, pool)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::rng;

    #[test]
    fn feminine_surnames() {
        let mut r = rng(3, "names", 0);
        for _ in 0..50 {
            let n = person_name(&mut r, Culture::Russian, true, 1950, false);
            assert!(n.family.ends_with('a'), "{}", n.family);
            let n = person_name(&mut r, Culture::Polish, true, 1950, false);
            assert!(!n.family.ends_with("ski"), "{}", n.family);
        }
    }

    #[test]
    fn vietnamese_middle_name() {
        let mut r = rng(3, "names", 1);
        let n = person_name(&mut r, Culture::Vietnamese, false, 1950, false);
        assert_eq!(n.given[1], "Van");
    }
}
